/**
 * Loads config/incidentd.yaml: YAML parsing, `${VAR}` interpolation, zod
 * validation, and translation of every problem into a human message with the
 * file:line:column of the offending node.
 *
 * Order of work:
 * 1. Parse with `yaml`'s parseDocument + LineCounter. Syntax errors stop here
 *    (all of them are returned).
 * 2. Convert to plain JS and expand `${VAR}` / `${VAR:-default}` in string
 *    values. This happens after parsing, so an environment variable can never
 *    change the structure of the document. `$${` is a literal `${`.
 * 3. Validate with incidentdConfigSchema using a human error map.
 * 4. Map each problem's path back to a YAML node for line/column.
 *
 * Secrets: a problem never echoes a value that came from environment
 * interpolation, nor the value of a key named like token/password/secret/pass
 * (or database.url, which may contain a password).
 */
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { incidentdConfigSchema, type IncidentdConfig } from './config-schema';

export interface ConfigProblem {
  /** File the problem was found in (as passed to the loader). */
  file: string;
  /** Key path like `clients[2].sla.sev1.respond`; `(root)` for the document itself. */
  path: string;
  /** 1-based line of the offending node (or of its closest existing parent). */
  line?: number;
  /** 1-based column. */
  column?: number;
  /** Human-readable description. */
  message: string;
}

export type LoadConfigResult = { ok: true; config: IncidentdConfig } | { ok: false; problems: ConfigProblem[] };

export type PathSegment = string | number;

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

const PLAIN_KEY_RE = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Renders `['clients', 2, 'sla', 'sev1', 'respond']` as `clients[2].sla.sev1.respond`; `[]` as `(root)`. */
export function renderPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && PLAIN_KEY_RE.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

function pathKey(path: ReadonlyArray<PropertyKey>): string {
  return JSON.stringify(path.map((s) => (typeof s === 'number' ? s : String(s))));
}

function isPrefix(prefix: ReadonlyArray<PropertyKey>, path: ReadonlyArray<PropertyKey>): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => String(s) === String(path[i]));
}

// ---------------------------------------------------------------------------
// Environment interpolation
// ---------------------------------------------------------------------------

export interface InterpolationProblem {
  path: PathSegment[];
  message: string;
}

export interface Interpolated {
  /** Path of the string value that contained at least one `${...}` reference. */
  path: PathSegment[];
  /** Names of the environment variables that were substituted (not defaults). */
  variables: string[];
  /** The substituted environment values (never to be shown to anyone). */
  values: string[];
}

export interface InterpolationResult {
  /** A copy of the input with every string value expanded. */
  value: unknown;
  problems: InterpolationProblem[];
  /** Every string value that used an environment variable. */
  interpolated: Interpolated[];
}

export interface StringInterpolation {
  value: string;
  /** Referenced variables that are not set and have no default. */
  missing: string[];
  /** Malformed references, as messages. */
  errors: string[];
  /** Variables actually read from the environment, with their values. */
  substituted: Array<{ name: string; value: string }>;
  /** Whether the string contained any `${...}` reference at all. */
  hadReference: boolean;
}

const REFERENCE_BODY_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Expands `${VAR}` and `${VAR:-default}` in one string. As in the shell,
 * `:-default` is used when VAR is unset or empty. `$${` produces a literal `${`.
 */
export function interpolateString(text: string, env: NodeJS.ProcessEnv = process.env): StringInterpolation {
  const result: StringInterpolation = { value: '', missing: [], errors: [], substituted: [], hadReference: false };
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (text.startsWith('${', i)) {
      result.hadReference = true;
      const close = text.indexOf('}', i + 2);
      if (close < 0) {
        result.errors.push('unterminated "${" (write "$${" for a literal "${")');
        out += text.slice(i);
        break;
      }
      const body = text.slice(i + 2, close);
      const m = REFERENCE_BODY_RE.exec(body);
      if (!m) {
        result.errors.push(
          `invalid environment variable reference ${JSON.stringify('${' + body + '}')}; use \${NAME} or \${NAME:-default} (write "$\${" for a literal "\${")`,
        );
        out += text.slice(i, close + 1);
      } else {
        const [, name, fallback] = m;
        const value = env[name];
        if (value !== undefined && (value !== '' || fallback === undefined)) {
          out += value;
          result.substituted.push({ name, value });
        } else if (fallback !== undefined) {
          out += fallback;
        } else {
          result.missing.push(name);
          out += text.slice(i, close + 1);
        }
      }
      i = close + 1;
      continue;
    }
    out += text[i];
    i += 1;
  }
  result.value = out;
  return result;
}

/**
 * Expands environment references in every string value of a parsed document
 * (keys are left alone). Returns a new value; the input is not modified. A
 * missing variable without default is a problem at the value's path:
 * `environment variable ALERTMANAGER_TOKEN is not set`.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, path: PathSegment[] = []): InterpolationResult {
  const problems: InterpolationProblem[] = [];
  const interpolated: Interpolated[] = [];
  const walk = (node: unknown, at: PathSegment[]): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('${')) return node;
      const r = interpolateString(node, env);
      for (const name of r.missing) problems.push({ path: at, message: `environment variable ${name} is not set` });
      for (const message of r.errors) problems.push({ path: at, message });
      if (r.substituted.length > 0) {
        interpolated.push({ path: at, variables: r.substituted.map((s) => s.name), values: r.substituted.map((s) => s.value) });
      }
      return r.value;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...at, i]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) out[k] = walk(v, [...at, k]);
      return out;
    }
    return node;
  };
  const expanded = walk(value, path);
  return { value: expanded, problems, interpolated };
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

const SECRET_KEY_RE = /token|password|passwd|secret|passphrase|^pass$|apikey|api_key/i;
const HIDDEN = '<hidden>';

function isSecretPath(path: ReadonlyArray<PropertyKey>): boolean {
  if (path.some((s) => typeof s === 'string' && SECRET_KEY_RE.test(s))) return true;
  // database.url may carry credentials.
  return path.length >= 2 && path[0] === 'database' && path[1] === 'url';
}

// ---------------------------------------------------------------------------
// Human error messages
// ---------------------------------------------------------------------------

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'mapping';
  return typeof value;
}

const EXPECTED_NAMES: Record<string, string> = {
  array: 'list',
  object: 'mapping',
  record: 'mapping',
  map: 'mapping',
  int: 'integer',
  nan: 'number',
  undefined: 'nothing',
};

function describeReceived(value: unknown, hide: boolean): string {
  if (value === null) return 'an empty value (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (hide) return `${typeof value} (value hidden)`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

interface ErrorMapState {
  /** Paths whose received value must not be echoed (env-interpolated). */
  hiddenPaths: Set<string>;
  /** Known keys of strict objects, by object path (for "did you mean" hints). */
  knownKeys: Map<string, string[]>;
}

/** Loose view of zod's raw issue, as passed to error maps. */
interface RawIssue {
  code?: string;
  input?: unknown;
  path?: PropertyKey[];
  expected?: string;
  values?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  format?: string;
  divisor?: number | bigint;
  keys?: string[];
  message?: string;
  inst?: unknown;
}

function makeErrorMap(state: ErrorMapState) {
  return (raw: unknown): string | undefined => {
    const iss = raw as RawIssue;
    const path = iss.path ?? [];
    const hide = isSecretPath(path) || state.hiddenPaths.has(pathKey(path));
    const input = iss.input;
    switch (iss.code) {
      case 'invalid_type': {
        if (input === undefined) {
          const last = path[path.length - 1];
          return typeof last === 'string' ? `missing required key ${JSON.stringify(last)}` : 'missing value';
        }
        const expected = EXPECTED_NAMES[iss.expected ?? ''] ?? iss.expected ?? 'another type';
        return `expected ${expected}, got ${describeReceived(input, hide)}`;
      }
      case 'invalid_value': {
        const values = (iss.values ?? []).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
        const got = hide ? '' : ` (got ${describeReceived(input, false).replace(/^string /, '')})`;
        if (values.length === 1) return `expected ${values[0]}${got}`;
        return `expected one of ${values.join(', ')}${got}`;
      }
      case 'too_small': {
        const min = Number(iss.minimum);
        if (iss.origin === 'array' || iss.origin === 'set') {
          return min === 1 ? 'must not be empty (at least 1 entry)' : `must have at least ${plural(min, 'entry').replace('entrys', 'entries')}`;
        }
        if (iss.origin === 'string') return min === 1 ? 'must not be empty' : `must be at least ${plural(min, 'character')}`;
        return iss.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
      }
      case 'too_big': {
        const max = Number(iss.maximum);
        if (iss.origin === 'array' || iss.origin === 'set') return `must have at most ${plural(max, 'entry').replace('entrys', 'entries')}`;
        if (iss.origin === 'string') return `must be at most ${plural(max, 'character')}`;
        return iss.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
      }
      case 'invalid_format': {
        const got = hide ? '' : ` (got ${describeReceived(input, false).replace(/^string /, '')})`;
        if (iss.format === 'email') return `expected an email address${got}`;
        if (iss.format === 'url') return `expected a URL${got}`;
        return `invalid ${iss.format ?? 'format'}${got}`;
      }
      case 'not_multiple_of':
        return `must be a multiple of ${String(iss.divisor)}`;
      case 'unrecognized_keys': {
        const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
        if (shape) state.knownKeys.set(pathKey(path), Object.keys(shape));
        return `unknown key(s) ${(iss.keys ?? []).map((k) => JSON.stringify(k)).join(', ')}`;
      }
      case 'invalid_union':
        return 'does not match any of the allowed forms';
      case 'invalid_key':
        return 'invalid key';
      case 'invalid_element':
        return 'invalid entry';
      default:
        return undefined;
    }
  };
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

function suggestKey(key: string, known: string[] | undefined): string | undefined {
  if (!known) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

// ---------------------------------------------------------------------------
// Locating nodes
// ---------------------------------------------------------------------------

type Position = { line: number; column: number };

function keyMatches(key: unknown, segment: PathSegment): boolean {
  if (isScalar(key)) return String(key.value) === String(segment);
  return false;
}

function positionOf(node: Node | null | undefined, lineCounter: LineCounter): Position | undefined {
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line: Math.max(line, 1), column: col };
}

/**
 * Finds the line/column for a path: the node itself when it exists (the key
 * when `atKey` is set or the node is a collection/empty value in a mapping),
 * otherwise the closest existing parent (its key when it has one).
 */
function locate(doc: Document, lineCounter: LineCounter, path: ReadonlyArray<PathSegment>, atKey = false): Position | undefined {
  let current: unknown = doc.contents;
  let currentKey: Node | undefined;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth];
    if (isAlias(current)) current = current.resolve(doc);
    let next: unknown;
    let nextKey: Node | undefined;
    let found = false;
    if (isMap(current)) {
      const pair = current.items.find((p) => keyMatches(p.key, segment));
      if (pair) {
        found = true;
        next = pair.value;
        nextKey = isScalar(pair.key) ? pair.key : undefined;
      }
    } else if (isSeq(current) && typeof segment === 'number' && segment >= 0 && segment < current.items.length) {
      found = true;
      next = current.items[segment];
    }
    if (!found) {
      // Closest existing parent.
      return positionOf(currentKey, lineCounter) ?? positionOf(current as Node, lineCounter);
    }
    current = next;
    currentKey = nextKey;
  }
  const node = current as Node | null | undefined;
  if (atKey && currentKey) return positionOf(currentKey, lineCounter);
  const isEmpty = node === null || node === undefined || (isScalar(node) && node.value === null && !node.source);
  if (currentKey && (isEmpty || isMap(node) || isSeq(node))) return positionOf(currentKey, lineCounter);
  return positionOf(node ?? undefined, lineCounter) ?? positionOf(currentKey, lineCounter);
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

interface PendingProblem {
  path: PathSegment[];
  message: string;
  atKey?: boolean;
}

/** `${` right after a flow indicator or a `key:` on a line that uses flow collections (must be quoted there). */
const UNQUOTED_FLOW_REFERENCE_RE = /(?:[{[,]|[{[][^#]*:\s)\s*\$\{/;

/** A line with a key that may hold a secret (token, password, secret, pass, a database url). */
const SECRET_LINE_RE = /(?:token|password|passwd|secret|passphrase|pass|apikey|api_key|url)["']?\s*:/i;

function cleanYamlMessage(message: string): string {
  const firstLine = message.split('\n')[0];
  return firstLine.replace(/ at line \d+, column \d+:?\s*$/, '').trim();
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const la = a.p.line ?? Number.MAX_SAFE_INTEGER;
      const lb = b.p.line ?? Number.MAX_SAFE_INTEGER;
      if (la !== lb) return la - lb;
      const ca = a.p.column ?? 0;
      const cb = b.p.column ?? 0;
      if (ca !== cb) return ca - cb;
      return a.i - b.i;
    })
    .map(({ p }) => p);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function valueAt(root: unknown, path: ReadonlyArray<PathSegment>): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/**
 * Removes secrets from a message: the value at a secret or env-interpolated path
 * is replaced, and so is any substituted environment value found anywhere.
 */
function redact(message: string, path: PathSegment[], data: unknown, interpolated: Interpolated[]): string {
  let out = message;
  const related = interpolated.filter((entry) => isPrefix(entry.path, path) || isPrefix(path, entry.path));
  if (isSecretPath(path) || related.length > 0) {
    const value = valueAt(data, path);
    if (typeof value === 'string' || typeof value === 'number') {
      const text = String(value);
      if (text.length > 0) {
        out = out.split(JSON.stringify(text)).join(HIDDEN);
        const shown = text.length > 80 ? JSON.stringify(`${text.slice(0, 77)}...`) : undefined;
        if (shown) out = out.split(shown).join(HIDDEN);
        if (text.length >= 4) out = out.split(text).join(HIDDEN);
      }
    }
  }
  for (const entry of interpolated) {
    for (const secret of entry.values) {
      if (secret.length === 0) continue;
      out = out.split(JSON.stringify(secret)).join(HIDDEN);
      if (secret.length >= 6) out = out.replace(new RegExp(escapeRegExp(secret), 'g'), HIDDEN);
    }
  }
  return out;
}

/**
 * Parses and validates configuration text. `file` is only used in problems.
 * Returns every problem found (YAML syntax errors stop before validation).
 */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, merge: true, uniqueKeys: true });

  if (doc.errors.length > 0) {
    // One error per line: after the first one, yaml's errors on the same line are mostly a cascade.
    const lines = text.split(/\r?\n/);
    const byLine = new Map<number, ConfigProblem>();
    for (const error of doc.errors) {
      const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
      const line = Math.max(pos.line, 1);
      if (byLine.has(line)) continue;
      const lineText = lines[line - 1] ?? '';
      let message = `YAML syntax error: ${cleanYamlMessage(error.message)}`;
      // yaml quotes the offending token; don't repeat it from a line that holds a secret.
      if (SECRET_LINE_RE.test(lineText)) message = message.replace(/ in YAML stream: .*$/, ' in YAML stream');
      if (UNQUOTED_FLOW_REFERENCE_RE.test(lineText)) {
        message += '; inside { } or [ ], put values that use ${...} in quotes: "${VAR}"';
      }
      byLine.set(line, { file, path: '(root)', line, column: pos.col, message });
    }
    return { ok: false, problems: sortProblems([...byLine.values()]) };
  }

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return {
      ok: false,
      problems: [{ file, path: '(root)', message: 'the configuration is empty; expected a mapping with at least a "clients" list' }],
    };
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const position = positionOf(doc.contents, lineCounter);
    return { ok: false, problems: [{ file, path: '(root)', ...position, message: `cannot read YAML: ${(error as Error).message}` }] };
  }

  const { value: data, problems: envProblems, interpolated } = interpolateEnv(raw, env);

  const pending: PendingProblem[] = envProblems.map((p) => ({ path: p.path, message: p.message }));
  const envProblemPaths = envProblems.map((p) => p.path);

  const state: ErrorMapState = {
    hiddenPaths: new Set(interpolated.map((entry) => pathKey(entry.path))),
    knownKeys: new Map(),
  };
  const parsed = incidentdConfigSchema.safeParse(data, { error: makeErrorMap(state) as z.core.$ZodErrorMap });

  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((s) => (typeof s === 'number' ? s : String(s)));
      // A value that failed interpolation already has its problem; don't pile on.
      if (envProblemPaths.some((p) => isPrefix(p, path))) continue;
      if (issue.code === 'unrecognized_keys') {
        const known = state.knownKeys.get(pathKey(path));
        for (const key of issue.keys) {
          const suggestion = suggestKey(key, known);
          pending.push({
            path: [...path, key],
            message: `unknown key ${JSON.stringify(key)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}`,
            atKey: true,
          });
        }
        continue;
      }
      pending.push({ path, message: issue.message });
    }
  }

  if (pending.length === 0 && parsed.success) return { ok: true, config: parsed.data };

  const problems = pending.map((p): ConfigProblem => {
    const position = locate(doc, lineCounter, p.path, p.atKey);
    const problem: ConfigProblem = { file, path: renderPath(p.path), message: redact(p.message, p.path, data, interpolated) };
    if (position) {
      problem.line = position.line;
      problem.column = position.column;
    }
    return problem;
  });
  return { ok: false, problems: sortProblems(problems) };
}

/** Reads and validates a configuration file. An unreadable file is one problem carrying the OS message. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, problems: [{ file, path: '(root)', message: `cannot read configuration file: ${(error as Error).message}` }] };
  }
  return loadConfigText(text, file, env);
}

/** `config/incidentd.yaml:42:9: clients[2].sla.sev1.respond: expected a duration ...` (no line/column when unknown). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return `${where}: ${p.path}: ${p.message}`;
}

export class ConfigError extends Error {
  problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const file = problems[0]?.file ?? 'configuration';
    super(
      `invalid configuration (${plural(problems.length, 'problem')}) in ${file}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Loads a configuration file or throws a ConfigError listing every problem. */
export function loadConfigOrThrow(file: string, env: NodeJS.ProcessEnv = process.env): IncidentdConfig {
  const result = loadConfigFile(file, env);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}
