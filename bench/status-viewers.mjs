// Status page viewers for the status benchmark, run as separate processes so their CPU is
// not the daemon's. Opens `count` socket.io connections to the /status namespace (as open
// pages do). Talks to its parent over IPC:
//   -> {connected}                      once every viewer is connected
//   <- {arm: indicator}                 from now on, note when each viewer first receives the
//                                       statuses ('status') and the live page ('page') with it
//   <- {report: true}  -> {status: [times], page: [times], missing: {status, page}, reconnected}
//
// Only pushes count as deliveries: a viewer whose connection dropped and came back during
// the round got the state from the resync that follows a reconnection, not from the push,
// so it counts as missing (as does a viewer that received nothing).
//   <- {count: true}  -> {open}          how many viewers are connected now
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
let reconnected = 0;

// Connect in waves: a real audience arrives over minutes, not in one millisecond.
const WAVE = 250;
for (let i = 0; i < count; i += WAVE) {
  await Promise.all(
    Array.from({ length: Math.min(WAVE, count - i) }, () => new Promise((resolve) => {
      const socket = io(`${url}/status`, { auth: { client }, transports: ['websocket'], reconnection: true, timeout: 60_000 });
      const seenInRound = { status: -1, page: -1 };
      let connectedInRound = 0;
      socket.on('connect', () => {
        connectedInRound = round;
        if (round > 0) reconnected += 1;
      });
      for (const event of ['status', 'page']) {
        socket.on(event, (state) => {
          // (Re)connected after the round was armed: this is the resync, not the push.
          if (round > 0 && connectedInRound === round) return;
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
    process.send({ ...receivedAt, missing: { status: count - receivedAt.status.length, page: count - receivedAt.page.length }, reconnected });
  } else if (message.count) {
    process.send({ open: sockets.filter((socket) => socket.connected).length });
  } else if (message.exit) {
    for (const socket of sockets) socket.close();
    setTimeout(() => process.exit(0), 200);
  }
});
