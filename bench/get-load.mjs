// GET throughput for bench:status when wrk is not installed, run as a separate process (like
// wrk) so its CPU is not the benchmark's: `connections` keep-alive connections, each sending
// the next request as soon as the answer is read, for `seconds`. Prints one JSON line.
//
//   node bench/get-load.mjs '{"url": "http://127.0.0.1:8080/status/x/api/v2/summary.json", "connections": 64, "seconds": 10}'
// A Node.js client spends more CPU per request than wrk: on a small machine it takes CPU the
// daemon would otherwise have, so its figures are a lower bound of what wrk reports.
import http from 'node:http';

const { url, connections, seconds } = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies = [];
let non2xx = 0;
let errors = 0;

function get() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (res.statusCode < 200 || res.statusCode >= 300) non2xx += 1;
        resolve();
      });
    });
    req.on('error', () => {
      errors += 1;
      resolve();
    });
  });
}

const started = Date.now();
const deadline = started + seconds * 1000;
await Promise.all(Array.from({ length: connections }, async () => {
  while (Date.now() < deadline) await get();
}));
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
process.stdout.write(`${JSON.stringify({ requests: latencies.length, rate: latencies.length / elapsed, non2xx, errors, p99Ms: pct(99) })}\n`);
agent.destroy();
