// Status page viewers for the status benchmark, run as separate processes so their CPU is
// not the daemon's. Opens `count` socket.io connections to the /status namespace (as open
// pages do). Talks to its parent over IPC:
//   -> {connected}                      once every viewer is connected
//   <- {arm: indicator}                 from now on, note when each viewer first receives the
//                                       statuses ('status') and the live page ('page') with it
//   <- {report: true}  -> {status: [times], page: [times], missing}
//   <- {exit: true}
//
//   node bench/status-viewers.mjs '{"url": "http://127.0.0.1:8080", "client": "northwind", "count": 2500}'
import { io } from 'socket.io-client';

const { url, client, count } = JSON.parse(process.argv[2]);
const sockets = [];
const now = () => performance.timeOrigin + performance.now();
let expected = null;
let round = 0;
let receivedAt = { status: [], page: [] };
let connected = 0;

// Connect in waves: a real audience arrives over minutes, not in one millisecond.
const WAVE = 250;
for (let i = 0; i < count; i += WAVE) {
  await Promise.all(
    Array.from({ length: Math.min(WAVE, count - i) }, () => new Promise((resolve) => {
      const socket = io(`${url}/status`, { auth: { client }, transports: ['websocket'], reconnection: true, timeout: 60_000 });
      const seenInRound = { status: -1, page: -1 };
      for (const event of ['status', 'page']) {
        socket.on(event, (state) => {
          if (expected && state.indicator === expected && seenInRound[event] !== round) {
            seenInRound[event] = round;
            receivedAt[event].push(now());
          }
        });
      }
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
  if (message.arm) {
    round += 1;
    expected = message.arm;
    receivedAt = { status: [], page: [] };
    process.send({ armed: true });
  } else if (message.report) {
    process.send({ ...receivedAt, missing: count - Math.min(receivedAt.status.length, receivedAt.page.length) });
  } else if (message.exit) {
    for (const socket of sockets) socket.close();
    setTimeout(() => process.exit(0), 200);
  }
});
