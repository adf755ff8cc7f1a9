import type { Logger } from './logger';

/**
 * A background worker that runs `work` again and again, `intervalMs` after each run ends,
 * one run at a time. `runNow` lets tests (and callers that know work is waiting) run it
 * directly; it waits for a run in progress instead of overlapping it.
 */
export function createPollingLoop(options: { name: string; intervalMs: number; logger: Logger; work: () => Promise<number> }) {
  let running: Promise<number> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;

  async function runNow(): Promise<number> {
    while (running) await running;
    running = options.work().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    runNow,
    start(): void {
      stopped = false;
      const loop = async () => {
        if (stopped) return;
        try {
          await runNow();
        } catch (error) {
          options.logger.error({ err: error }, `${options.name} failed; trying again shortly`);
        }
        if (!stopped) timer = setTimeout(loop, options.intervalMs);
      };
      void loop();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
