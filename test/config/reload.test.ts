import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
let admin: string;
let file: string;
let original: string;

beforeAll(async () => {
  file = writeConfig({});
  original = readFileSync(file, 'utf8');
  t = await startTestApp({ configFile: file });
  admin = await t.tokenFor('admin');
});
afterAll(async () => t?.close());

const reload = () => t.http.post('/-/reload').set('Authorization', `Bearer ${admin}`);

describe('POST /-/reload', () => {
  it('refuses an invalid file with every problem, and the old configuration stays in force', async () => {
    writeFileSync(file, original.replace('name: Northwind Traders', 'name: Northwind Broken').replace(/respond: 15m/, 'respond: soon'));
    const res = await reload();
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_config');
    expect(res.body.error.details[0]).toMatchObject({ path: 'clients[0].sla.sev1.respond', line: expect.any(Number), message: expect.stringContaining('expected a duration') });
    const client = await t.http.get('/api/v1/clients/northwind').set('Authorization', `Bearer ${admin}`);
    expect(client.body.name).toBe('Northwind Traders');
    expect(await t.scrapeMetrics()).toMatch(/incidentd_config_reloads_total\{result="failure"\} 1/);
  });

  it('puts a valid file in force at once, audits it, and says which changes need a restart', async () => {
    writeFileSync(file, original.replace('name: Northwind Traders', 'name: Northwind Renamed').replace('maxConcurrentIntake: 64', 'maxConcurrentIntake: 32'));
    const res = await reload();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'reloaded', restartRequired: ['server'] });
    const client = await t.http.get('/api/v1/clients/northwind').set('Authorization', `Bearer ${admin}`);
    expect(client.body.name).toBe('Northwind Renamed');
    const audit = await t.http.get('/api/v1/audit?entity=config').set('Authorization', `Bearer ${admin}`);
    expect(audit.body.events.at(-1)).toMatchObject({ action: 'config.reloaded', after: { clients: 3, restartRequired: ['server'] } });
  });
});
