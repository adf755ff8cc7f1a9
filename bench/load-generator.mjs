// Load generator for the benchmarks, run as a separate process so its CPU is not the
// server's. Posts Alertmanager-shaped webhooks (10 alerts of ~1 KB each, every alert
// unique) and reports latency percentiles.
//
//   node bench/load-generator.mjs '{"url": "...", "token": "...", "mode": "closed", "concurrency": 32, "seconds": 15, "runId": "x"}'
//   mode "closed": `concurrency` senders, each posting again as soon as it has an answer (max throughput)
//   mode "open":   `rate` requests per second whatever the answers (fixed load, for latency at a rate)
import http from 'node:http';

const options = JSON.parse(process.argv[2]);
const { url, token, mode, seconds, runId } = options;
const alertsPerRequest = options.alertsPerRequest ?? 10;
const groups = options.groups ?? 50;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 256 });
const description = 'Disk usage on the volume has been above the threshold for more than 10 minutes; '.repeat(8).slice(0, 700);

let sequence = 0;
function payload() {
  const request = sequence++;
  const group = request % groups;
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const alerts = [];
  for (let i = 0; i < alertsPerRequest; i += 1) {
    alerts.push({
      status: 'firing',
      labels: { alertname: `BenchDiskFull${group}`, client: 'globex', instance: `bench-host-${request}-${i}:9100`, job: 'node', severity: 'warning', mountpoint: '/var/lib/data', team: 'infrastructure', env: 'production' },
      annotations: { summary: `Disk almost full on bench-host-${request}-${i}`, description, runbook_url: 'https://runbooks.example/disk-full' },
      startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes',
      fingerprint: `${runId}-${request}-${i}`,
    });
  }
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="BenchDiskFull${group}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'incidentd',
    groupLabels: { alertname: `BenchDiskFull${group}` },
    commonLabels: { client: 'globex', job: 'node' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts,
  });
}

const latencies = [];
let ok = 0;
let errors = 0;
const statusCounts = {};

function send() {
  return new Promise((resolve) => {
    const body = payload();
    const started = process.hrtime.bigint();
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          statusCounts[res.statusCode] = (statusCounts[res.statusCode] ?? 0) + 1;
          if (res.statusCode >= 200 && res.statusCode < 300) ok += 1;
          else errors += 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors += 1;
      statusCounts.network = (statusCounts.network ?? 0) + 1;
      resolve();
    });
    req.end(body);
  });
}

const deadline = Date.now() + seconds * 1000;
const started = Date.now();
if (mode === 'closed') {
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (Date.now() < deadline) await send();
    }),
  );
} else {
  const inFlight = new Set();
  const intervalMs = 1000 / options.rate;
  let next = Date.now();
  while (Date.now() < deadline) {
    const promise = send();
    inFlight.add(promise);
    promise.then(() => inFlight.delete(promise));
    next += intervalMs;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(inFlight);
}
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
process.stdout.write(
  JSON.stringify({ requests: latencies.length, ok, errors, statusCounts, elapsed, alertsPerSecond: (ok * alertsPerRequest) / elapsed, p50: pct(50), p99: pct(99), max: latencies.at(-1), alertsSent: ok * alertsPerRequest }),
);
agent.destroy();
