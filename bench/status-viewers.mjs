// Status page viewers for the status benchmark, run as separate processes so their CPU is
// not the daemon's. Opens `count` socket.io connections to the /status namespace (as open
// pages do). Talks to its parent over IPC:
//   -> {connected}                      once every viewer is connected
//   <- {arm: indicator}                 from now on, note when each viewer first receives the
//                                       new statuses (in a 'page' push, or a 'status' push ahead
//                                       of a large page) and the live page ('page') with them
//   <- {report: true}  -> {status: [times], page: [times], missing: {status, page}, reconnected, dropped}
//   <- {count: true}  -> {open}          how many viewers are connected now
//   <- {exit: true}
//
// Only pushes count as deliveries: a viewer whose connection dropped during the round counts
// as missing (with socket.io-client, one that came back got the state from the resync that
// follows a reconnection, not from the push), as does a viewer that received nothing.
//
// Two kinds of viewer (`client`):
//   'protocol' (default): speaks the socket.io protocol itself over a `ws` WebSocket
//     (Engine.IO v4 open/ping/pong, Socket.IO v5 namespace CONNECT with the page's auth,
//     EVENT packets) and decodes every event packet fully (JSON), as the browser's client
//     does, without the rest of socket.io-client (reconnection manager, emitters, timers).
//     The daemon sees exactly what a browser's socket.io client sends it. This is the
//     default because the viewers share the daemon's machine: 10,000 socket.io-client
//     instances cost the daemon a good part of its CPU during a push, which 10,000 real
//     viewers on their own devices do not.
//   'socket.io-client': the real socket.io-client library (reconnects; its resync counts as
//     missing), for comparison.
//
//   node bench/status-viewers.mjs '{"url": "http://127.0.0.1:8080", "client": "northwind", "count": 2500, "viewerClient": "protocol"}'
import { io } from 'socket.io-client';
import WebSocket from 'ws';

const { url, client, count, viewerClient = 'protocol' } = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
let expected = null;
let round = 0;
let receivedAt = { status: [], page: [] };
let connected = 0;
let reconnected = 0;
/** Connections that closed after connecting (before the benchmark's end). */
let dropped = 0;
let exiting = false;
const viewers = [];

/** One viewer's bookkeeping: the first matching push of each kind per round is a delivery. */
function deliveries() {
  const seenInRound = { status: -1, page: -1 };
  let connectedInRound = 0;
  return {
    connected() {
      connectedInRound = round;
      if (round > 0) reconnected += 1;
    },
    received(event, state) {
      if (event !== 'status' && event !== 'page') return;
      // (Re)connected after the round was armed: this is the resync, not the push.
      if (round > 0 && connectedInRound === round) return;
      if (!expected || state?.indicator !== expected) return;
      // 'status': the statuses, whichever push brought them first; 'page': the live page.
      for (const part of event === 'page' ? ['status', 'page'] : ['status']) {
        if (seenInRound[part] === round) continue;
        seenInRound[part] = round;
        receivedAt[part].push(now());
      }
    },
  };
}

/** A viewer on socket.io-client. */
function socketIoViewer(resolve) {
  const socket = io(`${url}/status`, { auth: { client }, transports: ['websocket'], reconnection: true, timeout: 60_000 });
  const viewer = deliveries();
  socket.on('connect', () => viewer.connected());
  socket.on('disconnect', () => exiting || (dropped += 1));
  socket.onAny((event, state) => viewer.received(event, state));
  socket.once('connect', () => {
    connected += 1;
    resolve();
  });
  socket.once('connect_error', (error) => {
    process.stderr.write(`viewer could not connect: ${error.message}\n`);
    resolve();
  });
  return { isOpen: () => socket.connected, close: () => socket.close() };
}

/** A viewer speaking the socket.io protocol over a bare WebSocket (no reconnection: a drop is a miss). */
function protocolViewer(resolve) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  const viewer = deliveries();
  let open = false;
  const settle = (error) => {
    if (!resolve) return;
    if (error) process.stderr.write(`viewer could not connect: ${error}\n`);
    resolve();
    resolve = null;
  };
  ws.on('message', (data) => {
    const packet = data.toString();
    if (packet === '2') return void ws.send('3'); // Engine.IO ping -> pong
    if (packet.startsWith('0')) return void ws.send(`40/status,${JSON.stringify({ client })}`); // open -> namespace CONNECT with auth
    if (packet.startsWith('40/status,')) {
      open = true;
      connected += 1;
      viewer.connected();
      return settle();
    }
    if (packet.startsWith('44/status,')) return settle(packet.slice('44/status,'.length));
    if (packet.startsWith('42/status,')) {
      const [event, state] = JSON.parse(packet.slice('42/status,'.length));
      viewer.received(event, state);
    }
  });
  ws.on('error', (error) => settle(error.message));
  ws.on('close', () => {
    if (open && !exiting) dropped += 1;
    open = false;
    settle('closed');
  });
  return { isOpen: () => open, close: () => ws.close() };
}

// Connect in waves: a real audience arrives over minutes, not in one millisecond.
const WAVE = 250;
const openViewer = viewerClient === 'socket.io-client' ? socketIoViewer : protocolViewer;
for (let i = 0; i < count; i += WAVE) {
  await Promise.all(Array.from({ length: Math.min(WAVE, count - i) }, () => new Promise((resolve) => viewers.push(openViewer(resolve)))));
}
process.send({ connected });

process.on('message', (message) => {
  if (message.arm) {
    round += 1;
    expected = message.arm;
    receivedAt = { status: [], page: [] };
    process.send({ armed: true });
  } else if (message.report) {
    process.send({ ...receivedAt, missing: { status: count - receivedAt.status.length, page: count - receivedAt.page.length }, reconnected, dropped });
  } else if (message.count) {
    process.send({ open: viewers.filter((viewer) => viewer.isOpen()).length });
  } else if (message.exit) {
    exiting = true;
    for (const viewer of viewers) viewer.close();
    setTimeout(() => process.exit(0), 200);
  }
});
