#!/usr/bin/env node
// `npm start`: runs the daemon from dist/, compiling first only when the sources changed since
// the last build. The daemon runs in this very process, and package.json starts it with
// `exec`, so no shell sits between npm and node: the SIGTERM a process manager sends to
// `npm start` (npm forwards it to its child) reaches the daemon, which drains its requests,
// stops the embedded PostgreSQL and exits.
'use strict';
const { build, isUpToDate } = require('./build');

if (!isUpToDate()) {
  process.stdout.write('incidentd: the sources changed since the last build (or there is none); compiling first\n');
  try {
    build();
  } catch (error) {
    process.stderr.write(`incidentd: not starting: ${error.message}\n`);
    process.exit(1);
  }
}
require('../dist/src/main.js').runMain();
