// npm run bench:ingest
//
// Ingest benchmark (issue: alert intake). Starts the built daemon on a fresh database of
// the local PostgreSQL (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432),
// then, from a separate load-generator process:
//   1. max throughput: N concurrent senders (closed loop), alerts/s and latency;
//   2. fixed load of 2,000 alerts/s (open loop), latency;
// and the same two against a bare node:http server that only parses JSON and answers 200,
// for the ratio. Finally checks that every accepted alert is in the database.
//
// Options (env): BENCH_SECONDS (default 20), BENCH_CONCURRENCY (default 32), BENCH_RATE_ALERTS (default 2000).
import { execFileSync, fork, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import YAML from 'yaml';
import { createBenchDatabase, freePort, waitReady } from './bench-support.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const rateAlerts = Number(process.env.BENCH_RATE_ALERTS ?? 2000);
const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const token = 'bench-alertmanager-token-0123456789';


function runLoad(options) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(root, 'bench/load-generator.mjs'), [JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}


// A fresh database.
const database = await createBenchDatabase(serverUrl, 'incidentd_bench');

// The daemon, built, with the example catalog and a bench integration token.
const port = await freePort();
const configDoc = YAML.parseDocument(readFileSync(path.join(root, 'config/incidentd.yaml'), 'utf8'));
configDoc.set('server', { host: '127.0.0.1', port, metricsListen: `127.0.0.1:${await freePort()}` });
configDoc.set('logging', { level: process.env.BENCH_LOG_LEVEL ?? 'info' });
configDoc.set('integrations', [{ name: 'alertmanager', type: 'alertmanager', token }]);
const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'incidentd-bench-')), 'incidentd.yaml');
writeFileSync(configFile, configDoc.toString());
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
const daemon = spawn(process.execPath, [path.join(root, 'dist/src/main.js')], { env: { ...process.env, DATABASE_URL: database.url, INCIDENTD_CONFIG: configFile }, stdio: ['ignore', 'ignore', 'inherit'] });
await waitReady(`http://127.0.0.1:${port}/readyz`);

// The baseline: parse JSON, answer 200.
const bare = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
});
const barePort = await freePort();
await new Promise((resolve) => bare.listen(barePort, '127.0.0.1', resolve));

const incidentdUrl = `http://127.0.0.1:${port}/api/v1/alerts/alertmanager`;
const bareUrl = `http://127.0.0.1:${barePort}/`;
const results = {};
results.incidentdMax = await runLoad({ url: incidentdUrl, token, mode: 'closed', concurrency, seconds, runId: 'max' });
results.bareMax = await runLoad({ url: bareUrl, token, mode: 'closed', concurrency, seconds, runId: 'bare-max' });
results.incidentdRate = await runLoad({ url: incidentdUrl, token, mode: 'open', rate: rateAlerts / 10, seconds, runId: 'rate' });
results.bareRate = await runLoad({ url: bareUrl, token, mode: 'open', rate: rateAlerts / 10, seconds, runId: 'bare-rate' });

// Every accepted alert must be in the database.
const db = new pg.Client({ connectionString: database.url });
await db.connect();
const stored = Number((await db.query("select count(*) from alert where fingerprint like 'max-%' or fingerprint like 'rate-%'")).rows[0].count);
const accepted = results.incidentdMax.alertsSent + results.incidentdRate.alertsSent;
// Give the alert processor a moment, then report its backlog too.
await new Promise((resolve) => setTimeout(resolve, 2000));
const backlog = Number((await db.query('select count(*) from alert where needs_processing')).rows[0].count);
await db.end();

daemon.kill('SIGTERM');
await new Promise((resolve) => daemon.on('exit', resolve));
bare.close();
await database.drop();

const fmt = (n) => (Number.isFinite(n) ? n.toFixed(1) : String(n));
const line = (name, r) => `${name.padEnd(34)} ${fmt(r.alertsPerSecond).padStart(9)} alerts/s  p50 ${fmt(r.p50).padStart(7)} ms  p99 ${fmt(r.p99).padStart(7)} ms  max ${fmt(r.max).padStart(7)} ms  errors ${r.errors}  (${JSON.stringify(r.statusCounts)})`;
console.log(`\ningest benchmark: ${seconds}s per phase, ${concurrency} concurrent senders, 10 alerts (~1 KB each) per webhook, node ${process.version}`);
console.log(line('incidentd, max throughput', results.incidentdMax));
console.log(line('bare node:http, max throughput', results.bareMax));
console.log(line(`incidentd at ${rateAlerts} alerts/s`, results.incidentdRate));
console.log(line(`bare node:http at ${rateAlerts} alerts/s`, results.bareRate));
console.log(
  `ratio incidentd/bare: throughput ${(results.incidentdMax.alertsPerSecond / results.bareMax.alertsPerSecond).toFixed(3)} ` +
    `(bare is ${fmt(results.bareMax.alertsPerSecond / results.incidentdMax.alertsPerSecond)}x faster), p99 at ${rateAlerts}/s ${fmt(results.incidentdRate.p99 / results.bareRate.p99)}x the bare p99`,
);
console.log(`durability check: ${accepted} alerts accepted (2xx), ${stored} in the database: ${stored === accepted ? 'OK' : 'MISMATCH'}; processor backlog 2 s after the run: ${backlog}`);
const pass = results.incidentdMax.alertsPerSecond >= 5000 && results.incidentdRate.p99 < 100 && results.incidentdMax.errors + results.incidentdRate.errors === 0 && stored === accepted;
console.log(`targets (>= 5000 alerts/s, p99 < 100 ms at 2000 alerts/s, zero errors, all stored): ${pass ? 'MET' : 'NOT MET'}`);
process.exitCode = pass ? 0 : 1;
