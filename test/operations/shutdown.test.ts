import { connect as tcpConnect, type Socket as TcpSocket } from 'node:net';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnDaemon, writeConfig, type DaemonProcess } from '../support/daemon-process';
import { connected } from '../support/socket-events';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let db: TestDatabase;
let daemon: DaemonProcess;
let base: string;
let port: number;

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  daemon = spawnDaemon({ configFile: writeConfig({ server: { host: '127.0.0.1', port }, logging: { level: 'info' } }), env: { DATABASE_URL: db.url } });
  await daemon.waitFor(/sign in at/);
});
afterAll(async () => {
  if (daemon.proc.exitCode === null) daemon.proc.kill('SIGKILL');
  await db?.drop();
});

/**
 * A WebSocket peer that completes the upgrade and then never reads again: it never answers
 * the closing handshake (a hung browser tab, a client behind a dead NAT entry).
 */
function unresponsiveWebSocket(): Promise<TcpSocket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.write(
        [
          'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.once('error', reject);
    socket.once('data', (chunk) => {
      if (!chunk.toString().startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${chunk.toString()}`));
      socket.pause();
      resolve(socket);
    });
  });
}

describe('SIGTERM with live connections open', () => {
  it('does not wait for status page viewers (they reconnect on their own) and exits 0 well within the deadline, even with a peer that never answers', async () => {
    const viewers: Socket[] = [
      ...Array.from({ length: 40 }, () => connect(`${base}/status`, { auth: { client: 'northwind' }, transports: ['websocket'], reconnection: false })),
      // Browsers that cannot open a WebSocket long-poll: one request always waits at the server.
      ...Array.from({ length: 2 }, () => connect(`${base}/status`, { auth: { client: 'northwind' }, transports: ['polling'], reconnection: false })),
    ];
    await Promise.all(viewers.map(connected));
    const stuck = await unresponsiveWebSocket();
    const reasons = viewers.map((viewer) => new Promise<string>((resolve) => viewer.once('disconnect', (reason) => resolve(reason))));

    const started = Date.now();
    daemon.proc.kill('SIGTERM');
    const exit = await daemon.exited;
    const tookMs = Date.now() - started;
    stuck.destroy();

    expect(exit.code).toBe(0);
    expect(daemon.output()).toContain('shutdown complete');
    expect(daemon.output()).toMatch(/"liveConnections":41,"msg":"requests drained; live connections end with the process"/);
    // The deadline is 10 s; closing live connections must not eat it.
    expect(tookMs).toBeLessThan(5_000);
    // A dropped transport, not "io server disconnect": socket.io clients reconnect only after the former.
    expect(new Set(await Promise.all(reasons))).toEqual(new Set(['transport close']));
  }, 30_000);
});
