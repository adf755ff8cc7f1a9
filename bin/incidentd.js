#!/usr/bin/env node
// Runs the built CLI (npm ci builds it through the `prepare` script).
require('../dist/src/cli/incidentd.js');
