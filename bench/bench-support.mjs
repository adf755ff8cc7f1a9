// Helpers shared by the benchmark scripts.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200 (the daemon may still be migrating). */
export async function waitReady(url) {
  for (let i = 0; i < 300; i += 1) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready`);
}

/** A fresh database on the server of `serverUrl`; `drop()` removes it when the run is over. */
export async function createBenchDatabase(serverUrl, prefix) {
  const { default: pg } = await import('pg');
  const name = `${prefix}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * The machine's CPU time since boot from /proc/stat, to tell afterwards how much of a run the
 * hypervisor took for other guests ("steal"): on a shared virtual machine that varies from run
 * to run and moves every latency figure with it. `cpuShare(before, after)` gives the shares.
 */
export function cpuTimes() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

export function cpuShare(before, after) {
  const delta = (key) => after[key] - before[key];
  const total = delta('busy') + delta('idle') + delta('steal');
  const pct = (key) => `${((100 * delta(key)) / total).toFixed(0)} %`;
  return `CPU over the run: busy ${pct('busy')}, idle ${pct('idle')}, stolen by the hypervisor ${pct('steal')}`;
}
