import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import YAML from 'yaml';
import { loadConfigOrThrow, loadConfigText } from '../../src/config/load-config';
import { startDaemon, type RunningDaemon } from '../../src/daemon';
import { createLogger } from '../../src/platform/logger';
import { freePort, writeConfig } from '../support/daemon-process';
import { EXAMPLE_CONFIG, REPO_ROOT, startTestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const METRICS_TOKEN = 'scrape-me-with-this-token-7f3a';

let db: TestDatabase;
let daemon: RunningDaemon;
let base: string;
let metricsUrl: string;
const printed: string[] = [];

/** Starts the daemon in this process, as main.ts does, on the given configuration file. */
async function start(configFile: string, print: (line: string) => void = () => {}) {
  return startDaemon({ configFile, config: loadConfigOrThrow(configFile, {}), env: { DATABASE_URL: db.url }, logger: createLogger('silent'), print });
}

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  daemon = await start(writeConfig({ server: { host: '127.0.0.1', port, metricsListen: '127.0.0.1:0', metricsToken: METRICS_TOKEN } }), (line) => printed.push(line));
  base = `http://127.0.0.1:${port}`;
  metricsUrl = daemon.metricsUrl!;
}, 60_000);
afterAll(async () => {
  await daemon?.shutdown('test over');
  await db?.drop();
});

const withToken = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

describe('the metrics listener (server.metricsListen)', () => {
  it('serves metrics on its own address, says where at start, and not on the public listener', async () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl).port).not.toBe(new URL(base).port);
    expect(printed).toContain(`metrics for Prometheus at ${metricsUrl} (bearer token: server.metricsToken)`);

    const scraped = await fetch(metricsUrl, withToken(METRICS_TOKEN));
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    const text = await scraped.text();
    expect(text).toContain('# TYPE incidentd_incidents_open gauge');
    expect(text).toContain('incidentd_http_request_duration_seconds');

    // The public listener (status pages, sign-in) has no metrics, with or without the token
    // (there it is taken for a user's API token, and refused as one).
    for (const [init, status] of [[{}, 404], [withToken(METRICS_TOKEN), 401]] as const) {
      const publicScrape = await fetch(`${base}/metrics`, init);
      expect(publicScrape.status).toBe(status);
      expect(await publicScrape.text()).not.toContain('incidentd_incidents_open');
    }
    // And the metrics listener serves nothing else.
    expect((await fetch(new URL('/api/v1/incidents', metricsUrl), withToken(METRICS_TOKEN))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST', ...withToken(METRICS_TOKEN) })).status).toBe(405);
  });

  it('asks for the bearer token when server.metricsToken is set', async () => {
    const none = await fetch(metricsUrl);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="incidentd metrics"');
    expect(await none.text()).not.toContain('incidentd_');
    expect((await fetch(metricsUrl, withToken('scrape-me-with-this-token-7f3b'))).status).toBe(401);
    expect((await fetch(metricsUrl, { headers: { Authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` } })).status).toBe(401);
  });

  it('is scraped by a real Prometheus with the scrape configuration the README shows', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'incidentd-prometheus-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    // The README's block, pointed at this daemon; a second job with a wrong token must fail.
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).find((text) => text.includes('job_name: incidentd'));
    expect(block, 'the README shows a Prometheus scrape configuration').toBeDefined();
    const documented = YAML.parse(block!) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[]; authorization: { credentials_file: string } }[] };
    const job = documented.scrape_configs[0]!;
    job.static_configs[0]!.targets = [new URL(metricsUrl).host];
    job.authorization.credentials_file = path.join(dir, 'token');
    writeFileSync(job.authorization.credentials_file, METRICS_TOKEN);
    const wrongToken = { job_name: 'wrong-token', static_configs: job.static_configs, authorization: { credentials: 'not-the-metrics-token-at-all' } };
    writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify({ global: { scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: [job, wrongToken] }));

    const prometheusPort = await freePort();
    const prometheus = runPrometheus(dir, prometheusPort);
    onTestFinished(() => stop(prometheus));
    const api = `http://127.0.0.1:${prometheusPort}/api/v1`;
    const targets = await waitFor(async () => {
      const body = (await (await fetch(`${api}/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
      const byJob = Object.fromEntries(body.data.activeTargets.map((target) => [target.labels.job, target]));
      return byJob.incidentd?.health !== 'unknown' && byJob['wrong-token']?.health !== 'unknown' && byJob.incidentd && byJob['wrong-token'] ? byJob : undefined;
    }, 30_000);
    expect(targets.incidentd).toMatchObject({ health: 'up', lastError: '' });
    expect(targets['wrong-token']).toMatchObject({ health: 'down' });
    expect(targets['wrong-token']!.lastError).toContain('401');
    const query = (await (await fetch(`${api}/query?query=${encodeURIComponent('count(incidentd_http_request_duration_seconds_bucket)')}`)).json()) as { data: { result: { value: [number, string] }[] } };
    expect(Number(query.data.result[0]?.value[1])).toBeGreaterThan(0);
  }, 60_000);

  it('stops the start with a clear message when its port is taken, and frees the main port again', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    onTestFinished(() => void squatter.close());
    const taken = (squatter.address() as { port: number }).port;
    const port = await freePort();
    await expect(start(writeConfig({ server: { host: '127.0.0.1', port, metricsListen: `127.0.0.1:${taken}` } }))).rejects.toThrow(
      `cannot serve metrics on 127.0.0.1:${taken}: the address is in use (another incidentd on this machine?); set server.metricsListen (the example configuration reads METRICS_LISTEN) to another port, or to off`,
    );
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 60_000);
});

describe('without a metrics listener (metricsListen: off)', () => {
  it('serves /metrics on the main listener only with the metrics token, and not at all without one', async () => {
    const guarded = await startTestApp({ configFile: writeConfig({ server: { metricsListen: 'off', metricsToken: METRICS_TOKEN } }) });
    onTestFinished(() => guarded.close());
    expect((await guarded.http.get('/metrics')).status).toBe(401);
    expect((await guarded.http.get('/metrics').set('Authorization', 'Bearer not-the-metrics-token-at-all')).status).toBe(401);
    const scraped = await guarded.http.get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain('incidentd_incidents_open');

    const open = await startTestApp({ configFile: writeConfig({ server: { metricsListen: 'off' } }) });
    onTestFinished(() => open.close());
    const refused = await open.http.get('/metrics');
    expect(refused.status).toBe(404);
    expect(refused.text).not.toContain('incidentd_incidents_open');
  });
});

describe('the settings', () => {
  const load = (env: NodeJS.ProcessEnv, server?: Record<string, unknown>) => {
    const file = server ? writeConfig({ server }) : EXAMPLE_CONFIG;
    const result = loadConfigText(readFileSync(file, 'utf8'), 'incidentd.yaml', env);
    return result.ok ? { server: result.config.server, problems: [] } : { server: undefined, problems: result.problems.map((problem) => `${problem.path}: ${problem.message}`) };
  };

  it('reads host:port (IPv6 in brackets) or off, and a token of at least 16 characters', () => {
    // The example configuration, as it is and from the environment.
    expect(load({}).server).toMatchObject({ metricsListen: { host: '127.0.0.1', port: 9464 } });
    expect(load({}).server?.metricsToken).toBeUndefined();
    expect(load({ METRICS_LISTEN: '0.0.0.0:9100', METRICS_TOKEN: METRICS_TOKEN }).server).toMatchObject({ metricsListen: { host: '0.0.0.0', port: 9100 }, metricsToken: METRICS_TOKEN });
    expect(load({ METRICS_LISTEN: '[::1]:9464' }).server?.metricsListen).toEqual({ host: '::1', port: 9464 });
    expect(load({ METRICS_LISTEN: 'off' }).server?.metricsListen).toBeNull();
    // A token from the environment is never repeated in a message.
    const short = load({ METRICS_TOKEN: 'short-secret' }).problems;
    expect(short).toEqual(['server.metricsToken: must be at least 16 characters']);
    expect(short.join()).not.toContain('short-secret');

    expect(load({}, { metricsListen: false }).server?.metricsListen).toBeNull();
    expect(load({}, { metricsListen: '9464' }).problems).toEqual(['server.metricsListen: expected host:port such as 127.0.0.1:9464 or [::1]:9464, or off (got "9464")']);
    expect(load({}, { metricsListen: 'localhost:99999' }).problems).toEqual(['server.metricsListen: the port must be at most 65535']);
  });
});

function runPrometheus(dir: string, port: number): ChildProcess {
  const child = spawn('/usr/bin/prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  child.on('error', () => {});
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `probe` until it returns a value (errors count as "not yet"), at most `timeoutMs`. */
async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`gave up after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
