#!/usr/bin/env node
// `npm run build`: compiles src/ into dist/ with tsc and records a fingerprint of the sources
// it compiled (dist/.sources-sha256). `npm start` (scripts/start.js) compares the sources with
// it and compiles only when they changed, so a restart costs seconds, not a full compile.
'use strict';
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const STAMP = path.join('dist', '.sources-sha256');

/** Every file tsc reads from the project: tsconfig.json and src/**\/*.ts, in a stable order. */
function sourceFiles(root) {
  const files = [path.join(root, 'tsconfig.json')];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  walk(path.join(root, 'src'));
  return files;
}

/**
 * A hash of the sources' paths and contents. Contents, not modification times: a checkout, an
 * unpacked archive or `cp -p` can give a changed file an old time, and a deleted file counts too.
 */
function sourceFingerprint(root = PROJECT_ROOT) {
  const hash = createHash('sha256');
  for (const file of sourceFiles(root)) {
    hash.update(`${path.relative(root, file)}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** True when dist/ was built from exactly the sources there are now. */
function isUpToDate(root = PROJECT_ROOT) {
  const stamp = path.join(root, STAMP);
  if (!existsSync(stamp) || !existsSync(path.join(root, 'dist', 'src', 'main.js'))) return false;
  return readFileSync(stamp, 'utf8').trim() === sourceFingerprint(root);
}

/** Runs tsc; on success records the fingerprint of the sources as they were when it started. */
function build(root = PROJECT_ROOT) {
  const fingerprint = sourceFingerprint(root);
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root, PROJECT_ROOT] });
  } catch {
    throw new Error('dist/ is not built from the current sources and TypeScript is not installed (installed with --omit=dev?); run npm ci, then npm run build');
  }
  // An interrupted compile leaves dist/ half-written: until this one succeeds, it is not current.
  rmSync(path.join(root, STAMP), { force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the TypeScript build failed (tsc exit code ${result.status ?? result.signal})`);
  writeFileSync(path.join(root, STAMP), `${fingerprint}\n`);
}

module.exports = { build, isUpToDate, sourceFingerprint };

if (require.main === module) {
  try {
    build();
  } catch (error) {
    process.stderr.write(`incidentd: ${error.message}\n`);
    process.exit(1);
  }
}
