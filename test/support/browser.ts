import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import type { Role } from '../../src/features/auth/roles';
import type { TestApp } from './test-app';

/** Debian's Chromium, headless, as CI installs it (apt-get install chromium). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
}

/**
 * A new staff user and a browser context signed in as them: a real session (as the login
 * form creates it, after the one-time password was replaced) in the context's cookie jar.
 * The login form itself is tested on its own.
 */
export async function signedInContext(browser: Browser, t: TestApp, baseUrl: string, user: { name: string; email: string; roles: Role[] }): Promise<BrowserContext> {
  const actor = { type: 'system' as const, name: 'test' };
  const created = await t.app.services.users.addUser(user, actor);
  await t.app.services.users.changePassword(created.id, created.password, 'a long enough test password', actor);
  const session = await t.app.services.sessions.create(created.id);
  const context = await browser.newContext();
  await context.addCookies([{ name: 'incidentd_session', value: session.id, url: baseUrl, httpOnly: true, sameSite: 'Lax' }]);
  return context;
}
