import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, ROOT, now } from '../helpers/cli.js';
import { PASSWORD, consoleWorld } from '../helpers/console.js';
import { engines } from '../helpers/engines.js';

/**
 * The console in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download), against `serve` on the simulator and a real database per engine. Kept to one journey:
 * the HTTP-level rules (CSRF, roles, lockout) are in console.test.ts.
 * Screenshots go to STRIPE_CREDITS_SCREENSHOTS (docs/img for the README), else .screenshots/.
 */

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = resolve(ROOT, process.env.STRIPE_CREDITS_SCREENSHOTS ?? '.screenshots');

let browser: Browser;

async function signIn(page: Page, name: string): Promise<void> {
  await page.fill('#name', name);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/review$/);
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives every launch a fresh temporary profile (--user-data-dir) of its own.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe.each(engines())('console in a browser (%s)', (engine) => {
  it('support signs in, finds a payment from a ticket email, assigns it: the balance moves, the actor is recorded', async (test) => {
    const w = await consoleWorld(engine, test);
    const ticketEmail = 'ann.work@example.org';
    const pi = w.sim.store.createCheckoutPayment({ created: now() - 2 * DAY, email: ticketEmail, amount: 2500 })
      .paymentIntent!.id;
    w.sim.store.createCheckoutPayment({ created: now() - 3 * DAY, email: 'someone@example.net', amount: 900 });
    expect((await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes'])).code).toBe(3);
    for (const [name, role] of [
      ['sam', 'support'],
      ['ada', 'admin'],
    ])
      expect((await w.cli(['console', 'user', 'add', name!, '--role', role!], `${PASSWORD}\n`)).code).toBe(0);
    const { url } = await w.serve();

    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    test.onTestFinished(() => context.close());
    const page = await context.newPage();
    await page.goto(`${url}/review`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await signIn(page, 'sam');
    expect(await page.textContent('main')).toContain(pi);
    if (engine === 'sqlite') {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'console-review.png'), fullPage: true });
    }

    await page.click('nav >> text=Lookup');
    await page.fill('#q', ticketEmail);
    await page.click('button:has-text("Look up")');
    await page.click(`tr:has-text("${pi}") >> text=Assign…`);
    await page.fill('#user', 'ann@example.com');
    await page.fill('#reason', 'ticket 4711: paid with her work address');
    await page.click('button:has-text("Preview")');
    expect(await page.textContent('main')).toContain('+25');
    if (engine === 'sqlite') await page.screenshot({ path: join(SHOTS, 'console-assign-preview.png') });
    await page.click('button:has-text("Confirm")');
    expect(await page.textContent('[role=status]')).toContain('Credited 25 credits to user 1');

    await page.click('text=See user 1');
    expect((await page.textContent('.balance'))?.trim()).toBe('25 credits');
    expect(await page.textContent('td.actor')).toBe('sam');
    expect(
      await w.app.query('SELECT user_id, credits, payment_key, actor FROM credit_ledger WHERE kind = ?', 'purchase'),
    ).toEqual([{ user_id: '1', credits: 25, payment_key: pi, actor: 'sam' }]);

    // The operators' page: an admin's, with the run above and its plots.
    await page.click('button:has-text("Sign out")');
    await signIn(page, 'ada');
    await page.click('nav >> text=Runs');
    expect(await page.locator('figure.chart svg').count()).toBe(2);
    if (engine === 'sqlite') await page.screenshot({ path: join(SHOTS, 'console-runs.png'), fullPage: true });
  });
});
