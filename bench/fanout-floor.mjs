// npm run bench:fanout-floor
//
// What this machine can do at best, for comparison with `npm run bench:status`: a bare Node.js
// TCP server (no HTTP, WebSocket or socket.io) writes one small message (BENCH_MESSAGE_BYTES) to each of
// BENCH_VIEWERS (10,000) connections held by BENCH_VIEWER_PROCESSES (4) other processes, one
// write per connection, as fast as one event loop can; each receiver notes when the message
// arrived. Printed per round: how long the write loop took and the delivery p50/p99 over all
// connections, then the median round. No part of incidentd runs here: a delivery figure of
// bench:status close to this one means the daemon adds little on top of what the kernel
// and the shared CPUs cost.
//
// Options (env): BENCH_VIEWERS (10000), BENCH_VIEWER_PROCESSES (4), BENCH_ROUNDS (10),
// BENCH_MESSAGE_BYTES (300: the size of each message, to see what size costs).
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { cpuShare, cpuTimes } from './bench-support.mjs';

const viewers = Number(process.env.BENCH_VIEWERS ?? 10_000);
const processes = Number(process.env.BENCH_VIEWER_PROCESSES ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const messageBytes = Number(process.env.BENCH_MESSAGE_BYTES ?? 300);
const now = () => performance.timeOrigin + performance.now();

if (process.argv[2] === 'receiver') {
  // A receiver process: `count` connections, each noting when its message arrived.
  const { port, count } = JSON.parse(process.argv[3]);
  let arrivals = [];
  let connected = 0;
  for (let i = 0; i < count; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, count - i) }, () => new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve((connected += 1)));
        socket.once('error', reject);
        let buffered = '';
        socket.on('data', (chunk) => {
          buffered += chunk.toString();
          for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
            const message = JSON.parse(buffered.slice(0, end));
            buffered = buffered.slice(end + 1);
            arrivals.push(now() - message.sentAt);
          }
        });
      })),
    );
  }
  process.send({ connected });
  // Report a little after the parent asks: the last messages are still on their way.
  process.on('message', (message) => {
    if (message === 'exit') process.exit(0);
    setTimeout(() => {
      process.send(arrivals);
      arrivals = [];
    }, 1000);
  });
} else {
  const sockets = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.push(socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const receivers = Array.from({ length: processes }, (_, i) => {
    const count = Math.floor(viewers / processes) + (i < viewers % processes ? 1 : 0);
    return fork(fileURLToPath(import.meta.url), ['receiver', JSON.stringify({ port, count })]);
  });
  const reply = (child) => new Promise((resolve) => child.once('message', resolve));
  const connected = (await Promise.all(receivers.map(reply))).reduce((sum, m) => sum + m.connected, 0);
  console.log(`${connected} of ${viewers} connections from ${processes} processes`);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const results = [];
  const cpuBefore = cpuTimes();
  const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  for (let round = 1; round <= rounds; round += 1) {
    const body = { sentAt: now(), indicator: 'critical', pad: '' };
    body.pad = 'x'.repeat(Math.max(0, messageBytes - JSON.stringify(body).length - 1));
    const message = Buffer.from(`${JSON.stringify(body)}\n`);
    const started = performance.now();
    for (const socket of sockets) socket.write(message);
    const loop = performance.now() - started;
    const arrivals = (await Promise.all(receivers.map((child) => {
      const answer = reply(child);
      child.send('report');
      return answer;
    }))).flat().sort((a, b) => a - b);
    const result = { loop, p50: pct(arrivals, 50), p99: pct(arrivals, 99), delivered: arrivals.length };
    results.push(result);
    console.log(`round ${round}: write loop ${loop.toFixed(0)} ms; delivered to ${arrivals.length}: p50 ${result.p50.toFixed(0)} ms, p99 ${result.p99.toFixed(0)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const median = (key) => results.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  console.log(`median of ${rounds} rounds (${messageBytes}-byte messages, ${results[0]?.delivered} connections, ${processes} receiver processes on this machine's ${(await import('node:os')).availableParallelism()} CPUs): write loop ${median('loop').toFixed(0)} ms, p50 ${median('p50').toFixed(0)} ms, p99 ${median('p99').toFixed(0)} ms`);
  console.log(cpuShare(cpuBefore, cpuTimes()));
  receivers.forEach((child) => child.send('exit'));
  server.close();
  for (const socket of sockets) socket.destroy();
}
