// npm run bench:timers
//
// Timer benchmark (issue: escalation and SLA engine). Two daemons (replicas) share a fresh
// database of the local PostgreSQL. 10,000 durable timers are inserted, due evenly over
// BENCH_TIMER_SPREAD seconds (default 120), while the ingest load generator posts alerts to
// one daemon at BENCH_INGEST_RATE alerts/s (default 2,800: half the measured ingest peak).
// Afterwards it reports lateness (fire time - due time) p50/p99/max, timers not fired
// ("missed") and handler executions beyond one per timer ("doubled", from both daemons'
// incidentd_timers_fired_total counters).
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import YAML from 'yaml';
import { createBenchDatabase, freePort, waitReady } from './bench-support.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TIMERS = Number(process.env.BENCH_TIMERS ?? 10_000);
const spreadSeconds = Number(process.env.BENCH_TIMER_SPREAD ?? 120);
const ingestRate = Number(process.env.BENCH_INGEST_RATE ?? 2800);
const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const token = 'bench-alertmanager-token-0123456789';



const database = await createBenchDatabase(serverUrl, 'incidentd_bench_timers');

execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
const daemons = [];
for (const name of ['a', 'b']) {
  const port = await freePort();
  const metricsPort = await freePort();
  const doc = YAML.parseDocument(readFileSync(path.join(root, 'config/incidentd.yaml'), 'utf8'));
  // Two daemons on one machine: each its own metrics listener.
  doc.set('server', { host: '127.0.0.1', port, metricsListen: `127.0.0.1:${metricsPort}` });
  doc.set('logging', { level: 'warn' });
  doc.set('integrations', [{ name: 'alertmanager', type: 'alertmanager', token }]);
  const file = path.join(mkdtempSync(path.join(tmpdir(), `incidentd-bench-${name}-`)), 'incidentd.yaml');
  writeFileSync(file, doc.toString());
  const log = path.join(path.dirname(file), 'daemon.log');
  const proc = spawn(process.execPath, [path.join(root, 'dist/src/main.js')], { env: { ...process.env, DATABASE_URL: database.url, INCIDENTD_CONFIG: file }, stdio: ['ignore', openSync(log, 'w'), 'inherit'] });
  console.log(`daemon ${name}: log in ${log}`);
  daemons.push({ name, port, metricsPort, proc });
  // One at a time: the first migrates the fresh database.
  await waitReady(`http://127.0.0.1:${port}/readyz`);
}

const db = new pg.Client({ connectionString: database.url });
await db.connect();
// Timers of a real kind; with no incident they do no more than look it up and finish.
const start = Date.now() + 5_000;
await db.query(
  `insert into timer (kind, incident_id, due_at, payload, status, created_at, attempts)
   select 'escalation.step', null, to_timestamp(($1::bigint + (g * $2::bigint) / $3::bigint) / 1000.0), '{"policy":"bench","step":0,"round":0}', 'pending', now(), 0
   from generate_series(0, $3::bigint - 1) as g`,
  [start, spreadSeconds * 1000, TIMERS],
);
console.log(`${TIMERS} timers due between +5 s and +${spreadSeconds + 5} s; ingest at ${ingestRate} alerts/s into daemon a`);

const load = new Promise((resolve, reject) => {
  const child = fork(path.join(root, 'bench/load-generator.mjs'), [JSON.stringify({ url: `http://127.0.0.1:${daemons[0].port}/api/v1/alerts/alertmanager`, token, mode: 'open', rate: ingestRate / 10, seconds: spreadSeconds + 5, runId: 'timers' })], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
});
const ingest = await load;
await new Promise((resolve) => setTimeout(resolve, 10_000));

const stats = (
  await db.query(`select count(*) filter (where status = 'fired') as fired,
                         count(*) filter (where status <> 'fired') as missed,
                         percentile_cont(0.5) within group (order by extract(epoch from fired_at - due_at)) filter (where status = 'fired') as p50,
                         percentile_cont(0.99) within group (order by extract(epoch from fired_at - due_at)) filter (where status = 'fired') as p99,
                         max(extract(epoch from fired_at - due_at)) filter (where status = 'fired') as max,
                         count(distinct fired_by) as runners
                  from timer where payload->>'policy' = 'bench'`)
).rows[0];
// Real incidents created by the ingest load have escalation steps too; they are not ours.
const others = Number((await db.query("select count(*) from timer where kind = 'escalation.step' and status = 'fired' and payload->>'policy' <> 'bench'")).rows[0].count);
let executions = -others;
for (const daemon of daemons) {
  const text = await (await fetch(`http://127.0.0.1:${daemon.metricsPort}/metrics`)).text();
  const match = /incidentd_timers_fired_total\{kind="escalation.step",result="ok"\} (\d+)/.exec(text);
  executions += match ? Number(match[1]) : 0;
}
await db.end();
for (const daemon of daemons) daemon.proc.kill('SIGTERM');
await Promise.all(daemons.map((daemon) => new Promise((resolve) => daemon.proc.on('exit', resolve))));
await database.drop();

const ms = (seconds) => `${(Number(seconds) * 1000).toFixed(1)} ms`;
const doubled = executions - Number(stats.fired);
console.log(`\ntimer benchmark: ${TIMERS} timers over ${spreadSeconds} s, 2 daemons, ingest ${ingest.alertsPerSecond.toFixed(0)} alerts/s (p99 ${ingest.p99.toFixed(1)} ms, ${JSON.stringify(ingest.statusCounts)})`);
console.log(`fired ${stats.fired} (by ${stats.runners} daemons), missed ${stats.missed}, doubled ${doubled}`);
console.log(`lateness p50 ${ms(stats.p50)}, p99 ${ms(stats.p99)}, max ${ms(stats.max)}`);
const pass = Number(stats.p99) < 1 && Number(stats.max) < 5 && Number(stats.missed) === 0 && doubled === 0;
console.log(`targets (p99 < 1 s, max < 5 s, zero missed, zero doubled): ${pass ? 'MET' : 'NOT MET'}`);
process.exitCode = pass ? 0 : 1;
