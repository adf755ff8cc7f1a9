import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { writeConfig } from '../support/daemon-process';
import { startTestApp, type TestApp } from '../support/test-app';

// CSP `upgrade-insecure-requests` and HSTS only when incidentd is served over https: over
// plain http they sent browsers to https for every stylesheet, script and socket.io request.
const plainHttp = writeConfig({ server: { host: '0.0.0.0', port: 8080, publicUrl: 'http://incidentd.msp.example:8080' } });
const overHttps = writeConfig({ server: { host: '127.0.0.1', port: 8080, publicUrl: 'https://incidentd.msp.example' } });

/** This machine's first address that is not loopback: browsers do not upgrade requests to localhost. */
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;

describe('security headers', () => {
  let http: TestApp;
  let https: TestApp;
  beforeAll(async () => {
    [http, https] = await Promise.all([startTestApp({ configFile: plainHttp }), startTestApp({ configFile: overHttps })]);
  });
  afterAll(async () => {
    await Promise.all([http?.close(), https?.close()]);
  });

  it('over plain http: a content security policy without upgrade-insecure-requests, and no HSTS', async () => {
    for (const url of ['/login', '/status/northwind', '/api/v1/openapi.json']) {
      const res = await http.http.get(url);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('over https: upgrade-insecure-requests and HSTS', async () => {
    const res = await https.http.get('/status/northwind');
    expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });

  describe.runIf(lanAddress)('in Chromium, over plain http at a LAN address', () => {
    let browser: Browser;
    let server: Server;
    let base: string;
    beforeAll(async () => {
      browser = await launchChromium();
      server = createServer(http.app.handleRequest);
      http.app.attachRealtime(server);
      await new Promise<void>((resolve) => server.listen(0, lanAddress, resolve));
      base = `http://${lanAddress}:${(server.address() as { port: number }).port}`;
    });
    afterAll(async () => {
      await browser?.close();
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    });

    it('the status page gets its stylesheet and scripts and goes live', async () => {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (request) => failed.push(request.url()));
      const stylesheet = page.waitForResponse((response) => response.url().endsWith('.css'), { timeout: 10_000 });
      await page.goto(`${base}/status/northwind`);
      expect((await stylesheet).status()).toBe(200);
      // status-live.js marks the page once its socket.io connection is up.
      await page.waitForSelector('html[data-live="connected"]', { timeout: 10_000 });
      expect(failed).toEqual([]);
      await page.close();
    });
  });
});
