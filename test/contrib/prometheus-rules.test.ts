import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/test-app';

// The real promtool (Debian `prometheus`, installed by .ci/run) checks the shipped rules and
// runs their unit tests (contrib/prometheus/incidentd-rules.test.yml): each alert fires on
// the failure it is for, with its labels and annotations, and stays quiet on a healthy daemon.
const run = promisify(execFile);
const DIR = path.join(REPO_ROOT, 'contrib/prometheus');

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: DIR, timeout: 60_000 });
    return stdout + stderr;
  } catch (error) {
    const failure = error as { code?: string | number; stdout?: string; stderr?: string; message: string };
    if (failure.code === 'ENOENT') throw new Error('promtool not found (apt-get install prometheus)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? failure.message}`);
  }
}

describe('contrib/prometheus/incidentd-rules.yml', () => {
  it('passes promtool check rules', async () => {
    expect(await promtool('check', 'rules', 'incidentd-rules.yml')).toMatch(/SUCCESS: 7 rules found/);
  });

  it('passes its promtool unit tests', async () => {
    expect(await promtool('test', 'rules', 'incidentd-rules.test.yml')).toMatch(/SUCCESS/);
  });
});
