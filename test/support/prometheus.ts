import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForStatus } from './daemon-process';

/** One sample of an instant query: its labels and value ("NaN", "+Inf" or a number, as Prometheus writes it). */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  /** An instant query through the HTTP API (GET /api/v1/query); throws on a query error. */
  query(expr: string): Promise<Sample[]>;
  /** GET /api/v1/<path> and its `data`. */
  api<T>(pathAndQuery: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (Debian `prometheus`, installed by .ci/run) with a throwaway
 * configuration and data directory on a free port, scraping one target every second.
 */
export async function startPrometheus(options: { job: string; target: { address: string; metricsPath: string }; ruleFiles?: string[] }): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'incidentd-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: [{ job_name: options.job, metrics_path: options.target.metricsPath, static_configs: [{ targets: [options.target.address] }] }],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => proc.on('error', (error) => reject(new Error(`could not start prometheus (apt-get install prometheus): ${error.message}`))));
  try {
    await Promise.race([waitForStatus(`${url}/-/ready`, 200, 30_000), spawnFailed]);
  } catch (error) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\nprometheus said:\n${log}`);
  }

  async function api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${url}/api/v1/${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error}`);
    return body.data;
  }

  return {
    url,
    api,
    async query(expr) {
      return (await api<{ result: Sample[] }>(`query?query=${encodeURIComponent(expr)}`)).result;
    },
    async stop() {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
