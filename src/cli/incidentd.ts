import { userInfo } from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { IncidentdConfig } from '../config/config-schema';
import { formatProblem, loadConfigFile } from '../config/load-config';
import { migrateToLatest, openDatabase, type Database } from '../db/database';
import type { Actor } from '../features/audit/audit-service';
import { ROLES } from '../features/auth/roles';
import { createAuditService } from '../features/audit/audit-service';
import { createUserService, type UserService } from '../features/users/user-service';
import { main as runDaemon, DEFAULT_CONFIG_FILE } from '../main';
import { systemClock } from '../platform/clock';
import { AppError } from '../platform/errors';
import { createLogger } from '../platform/logger';

/**
 * `npx incidentd <command>`: administration from the shell. Uses the same configuration
 * and database settings as the daemon (DATABASE_URL, or the embedded data directory).
 */
const program = new Command('incidentd').description('incidentd: incident response daemon for managed-service providers');
const defaultConfig = () => process.env.INCIDENTD_CONFIG || DEFAULT_CONFIG_FILE;
const out = (line: string) => process.stdout.write(`${line}\n`);

function loadConfigOrExit(file: string): IncidentdConfig {
  const result = loadConfigFile(path.resolve(file));
  if (result.ok) return result.config;
  for (const problem of result.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  process.exit(1);
}

/** Opens the database like the daemon does, runs `work`, and closes it again. */
async function withUsers<T>(work: (users: UserService, actor: Actor) => Promise<T>): Promise<T> {
  const config = loadConfigOrExit(program.opts().config ?? defaultConfig());
  // Logs go to stderr so that stdout carries only the command's output (e.g. --json).
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr);
  let db: Database | undefined;
  try {
    db = await openDatabase({ url: process.env.DATABASE_URL || config.database.url, embedded: config.database.embedded, logger, poolSize: 2 });
    await migrateToLatest(db.orm, logger);
    const audit = createAuditService({ clock: systemClock });
    const users = createUserService({ orm: db.orm, clock: systemClock, audit, knownClientIds: () => new Set(config.clients.map((c) => c.id)) });
    return await work(users, { type: 'cli', name: `cli:${userInfo().username}` });
  } finally {
    await db?.close();
  }
}

function collectRoles(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((role) => role.trim()).filter(Boolean)];
}

function fail(error: unknown): never {
  if (error instanceof AppError) {
    process.stderr.write(`incidentd: ${error.message}\n`);
    if (Array.isArray(error.details)) for (const d of error.details) process.stderr.write(`  ${d.path}: ${d.message}\n`);
  } else {
    process.stderr.write(`incidentd: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
}

program.option('-c, --config <file>', 'configuration file (default: $INCIDENTD_CONFIG or config/incidentd.yaml)');

program
  .command('start')
  .description('run the daemon (same as npm start)')
  .action(async () => runDaemon(program.opts().config ?? defaultConfig()));

program
  .command('check-config')
  .description('validate a configuration file; prints every problem and exits 1 if there are any')
  .argument('[file]', 'configuration file')
  .action((file?: string) => {
    const target = file ?? program.opts().config ?? defaultConfig();
    const result = loadConfigFile(path.resolve(target));
    if (!result.ok) {
      for (const problem of result.problems) process.stderr.write(`${formatProblem(problem)}\n`);
      process.stderr.write(`${target}: ${result.problems.length} problem(s) found\n`);
      process.exit(1);
    }
    const c = result.config;
    out(`${target}: OK (${c.clients.length} clients, ${c.services.length} services, ${c.configurationItems.length} configuration items, ${c.teams.length} teams, ${c.integrations.length} integrations)`);
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    await withUsers(async () => out('database schema is up to date'));
  });

const user = program.command('user').description('manage users');

user
  .command('add')
  .description('create a user; prints a one-time password and an API token')
  .requiredOption('--name <name>', 'full name')
  .requiredOption('--email <email>', 'email address (sign-in name)')
  .addOption(new Option('--role <role>', `role; repeat or separate with commas (${ROLES.join(', ')})`).argParser(collectRoles).makeOptionMandatory())
  .option('--client <clientId>', 'client id (required for client_contact)')
  .option('--json', 'print one JSON object {id, name, email, role, password, token}')
  .action(async (options: { name: string; email: string; role: string[]; client?: string; json?: boolean }) => {
    const created = await withUsers((users, actor) => users.addUser({ name: options.name, email: options.email, roles: options.role, clientId: options.client }, actor)).catch(fail);
    if (options.json) {
      out(JSON.stringify({ id: created.id, name: created.name, email: created.email, role: created.roles.join(','), roles: created.roles, client: created.clientId, password: created.password, token: created.token }));
    } else {
      out(`created user ${created.email} (id ${created.id}, roles: ${created.roles.join(', ')})`);
      out(`  one-time password: ${created.password}`);
      out(`  API token:         ${created.token}`);
      out('Both are shown only once.');
    }
  });

user
  .command('list')
  .description('list users and their active roles')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const list = await withUsers((users) => users.listUsers()).catch(fail);
    if (options.json) {
      out(JSON.stringify(list, null, 2));
      return;
    }
    for (const u of list) out(`${String(u.id).padStart(4)}  ${u.email.padEnd(36)} ${u.name.padEnd(24)} ${u.roles.join(',')}${u.clientId ? ` (client ${u.clientId})` : ''}${u.disabled ? '  [disabled]' : ''}`);
  });

user
  .command('disable')
  .description('disable a user: no sign-in, tokens revoked, sessions ended')
  .argument('<email>', 'the user\'s email')
  .action(async (email: string) => {
    await withUsers((users, actor) => users.disableUser(email, actor)).catch(fail);
    out(`disabled ${email}`);
  });

user
  .command('reset-password')
  .description('issue a new one-time password (the user must choose a new one at the next sign-in)')
  .argument('<email>', 'the user\'s email')
  .option('--json', 'print {"email","password"}')
  .action(async (email: string, options: { json?: boolean }) => {
    const password = await withUsers((users, actor) => users.resetPassword(email, actor)).catch(fail);
    out(options.json ? JSON.stringify({ email, password }) : `new one-time password for ${email} (shown once): ${password}`);
  });

program
  .command('token')
  .description('manage API tokens')
  .command('rotate')
  .description('revoke a user\'s API tokens and print a new one')
  .argument('<email>', 'the user\'s email')
  .option('--json', 'print {"email","token"}')
  .action(async (email: string, options: { json?: boolean }) => {
    const token = await withUsers((users, actor) => users.rotateToken(email, actor)).catch(fail);
    out(options.json ? JSON.stringify({ email, token }) : `new API token for ${email} (shown once): ${token}`);
  });

program.parseAsync(process.argv).catch(fail);
