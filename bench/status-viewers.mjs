// Status page viewers for the status benchmark, run as separate processes so their CPU is
// not the daemon's. Opens `count` socket.io connections to the /status namespace (as open
// pages do), then records when each receives a state whose indicator is `expect`.
//
//   node bench/status-viewers.mjs '{"url": "http://127.0.0.1:8080", "client": "northwind", "count": 2500, "expect": "critical"}'
// Talks to its parent over IPC: sends {connected}, then on {report: true} sends {received, missing}.
import { io } from 'socket.io-client';

const { url, client, count, expect } = JSON.parse(process.argv[2]);
const receivedAt = [];
const sockets = [];
let connected = 0;
const now = () => performance.timeOrigin + performance.now();

// Connect in waves: a real audience arrives over minutes, not in one millisecond.
const WAVE = 250;
for (let i = 0; i < count; i += WAVE) {
  await Promise.all(
    Array.from({ length: Math.min(WAVE, count - i) }, () => new Promise((resolve) => {
      const socket = io(`${url}/status`, { auth: { client }, transports: ['websocket'], reconnection: true, timeout: 60_000 });
      let seen = false;
      socket.on('status', (state) => {
        if (!seen && state.indicator === expect) {
          seen = true;
          receivedAt.push(now());
        }
      });
      socket.once('connect', () => {
        connected += 1;
        resolve();
      });
      socket.once('connect_error', (error) => {
        process.stderr.write(`viewer could not connect: ${error.message}\n`);
        resolve();
      });
      sockets.push(socket);
    })),
  );
}
process.send({ connected });

process.on('message', (message) => {
  if (message.report) {
    process.send({ received: receivedAt, missing: count - receivedAt.length });
    for (const socket of sockets) socket.close();
    setTimeout(() => process.exit(0), 200);
  }
});
