import path from 'node:path';
import { formatProblem, loadConfigFile } from './config/load-config';
import { SHUTDOWN_DEADLINE_MS, startDaemon } from './daemon';

export const DEFAULT_CONFIG_FILE = 'config/incidentd.yaml';

/** `npm start`: run the daemon until SIGTERM/SIGINT; reload the configuration on SIGHUP. */
export async function main(configFile = process.env.INCIDENTD_CONFIG || DEFAULT_CONFIG_FILE): Promise<void> {
  const file = path.resolve(configFile);
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    process.stderr.write(`incidentd: invalid configuration, not starting:\n${loaded.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
    process.exit(1);
  }
  // Signals are taken from the start: a SIGTERM while the embedded database starts or the
  // schema migrates would otherwise kill node and leave that database running. It is acted
  // on as soon as the daemon is up.
  let requested: string | undefined;
  let stop = (signal: string) => {
    requested ??= signal;
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const daemon = await startDaemon({ configFile: file, config: loaded.config });

  process.on('SIGHUP', () => {
    // A failed reload (database away for the audit row) must not take the daemon down.
    daemon.app.reloadConfig({ type: 'system', name: 'SIGHUP' }).catch((error) => daemon.logger.error({ err: error }, 'configuration reload failed; the previous configuration stays in force'));
  });
  let stopping = false;
  stop = (signal: string) => {
    // A second signal (Ctrl-C reaches both npm and the daemon, and npm forwards its own copy)
    // must not cut the drain short: the first one starts it, the deadline ends it.
    if (stopping) return;
    stopping = true;
    // Whatever hangs, the process is gone within the deadline.
    setTimeout(() => {
      process.stderr.write('incidentd: shutdown took longer than 10 s; exiting\n');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    daemon.shutdown(signal).then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`incidentd: error during shutdown: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  if (requested) stop(requested);
}

/** The process entry point (`node dist/src/main.js`, and `npm start` through scripts/start.js). */
export function runMain(): void {
  main().catch((error) => {
    process.stderr.write(`incidentd: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}

if (require.main === module) runMain();
