// Helpers shared by the benchmark scripts.
import { createServer } from 'node:http';

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
