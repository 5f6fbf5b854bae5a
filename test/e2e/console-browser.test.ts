import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { runDemo } from '../../src/app/demo.js';
import { startConsole } from '../../src/console/server.js';
import { seedConsoleHistory } from '../helpers/console-history.js';
import { DAY, ROOT, now, query, runCli, tempDir } from '../helpers/cli.js';
import { PASSWORD, consoleWorld, type ConsoleWorld } from '../helpers/console.js';
import { engines } from '../helpers/engines.js';

/**
 * The console in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download), against `serve` on the simulator and a real database per engine: the journey, then the
 * defences as a browser meets them (their HTTP-level detail is in console.test.ts and console-security.test.ts).
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

    await page.click('nav >> text=Lookup');
    await page.fill('#q', ticketEmail);
    await page.click('button:has-text("Look up")');
    await page.click(`tr:has-text("${pi}") >> text=Assign…`);
    await page.fill('#user', 'ann@example.com');
    await page.fill('#reason', 'ticket 4711: paid with her work address');
    await page.click('button:has-text("Preview")');
    expect(await page.textContent('main')).toContain('+25');
    if (engine === 'sqlite') {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'console-assign-preview.png') });
    }
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
  });
});

/** One action of the review queue in the browser: its link in the row of `id`, the form, the preview, the confirm. */
async function resolveInBrowser(page: Page, id: string, link: string, fields: Record<string, string>): Promise<string> {
  await page.click('nav >> text=Review queue');
  await page.click(`tr:has-text("${id}") >> text=${link}`);
  for (const [field, value] of Object.entries(fields)) await page.fill(`#${field}`, value);
  await page.click('button:has-text("Preview")');
  await page.click('button:has-text("Confirm")');
  return (await page.textContent('[role=status]')) ?? '';
}

/**
 * The "done when", on the demo's own data: a support person clears the whole review queue from
 * the browser, and the ledger, `review --json` and `balance` say who did what. SQLite only: the demo
 * makes its database as a SQLite file (data/demo.db), it has no Postgres variant.
 */
describe('the demo cleared from the console (sqlite: the demo database is a SQLite file)', () => {
  it('a support person resolves every review entry of the demo in the browser; the ledger names her and her reasons', async (test) => {
    const tmp = tempDir('sc-demo-console-');
    const demo = await runDemo({ cwd: tmp.dir, actor: 'demo-runner', keep: true });
    const sim = demo.simulator!;
    const db = demo.dbPath;
    const env = { STRIPE_API_KEY: 'sk_test_demo_simulator', STRIPE_API_BASE: sim.url };
    const cli = (args: string[], stdin?: string) => runCli([...args, '--db', db], { cwd: tmp.dir, env, stdin });
    for (const [name, role] of [
      ['sam', 'support'],
      ['ada', 'admin'],
    ])
      expect((await cli(['console', 'user', 'add', name!, '--role', role!], `${PASSWORD}\n`)).code).toBe(0);
    const served = await startConsole({
      support: { settings: demo.settings, cwd: tmp.dir },
      ...{ host: '127.0.0.1', port: 0, tls: null, behindProxy: false, log: () => {} },
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    test.onTestFinished(async () => {
      await context.close();
      await served.close();
      await sim.close();
      tmp.cleanup();
    });
    const before = JSON.parse((await cli(['review', '--json'])).stdout);
    const key = (reason: string) => before.entries.find((e: { reason: string }) => e.reason === reason).paymentKey;
    const [dispute, refund] = ['dispute', 'refund'].map(
      (k) => before.reversals.find((r: { source: string }) => r.source === k).id,
    );
    expect([before.entries.length, before.reversals.length]).toEqual([5, 2]);
    const [{ lastDemoEntry }] = query<{ lastDemoEntry: number }>(
      db,
      'SELECT max(id) AS lastDemoEntry FROM credit_ledger',
    ) as [{ lastDemoEntry: number }];

    const page = await context.newPage();
    await page.goto(`${served.url}/login`);
    await signIn(page, 'sam');
    // The README's picture of the queue: the demo's five payments and its refund and dispute, with candidates.
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'console-review.png'), fullPage: true });
    const assign = (reason: string, user: string, why: string) =>
      resolveInBrowser(page, key(reason), 'Assign…', { user, reason: why });
    expect(await assign('ambiguous_email', '6', 'ticket 101: Frank Novak paid, name on the card')).toMatch(
      /Credited 299 credits to user 6/,
    );
    expect(await assign('no_user', 'alice@example.com', 'ticket 102: Alice paid from her other address')).toMatch(
      /Credited 99 credits to user 1/,
    );
    expect(await assign('conflicting_ids', '1', 'ticket 103: Alice bought it, Bob id was stale')).toMatch(
      /Credited 99 credits to user 1/,
    );
    for (const [reason, why] of [
      ['invalid_credits', 'ticket 104: refunded in Stripe, bad metadata'],
      ['no_credit_rule', 'ticket 105: euros not sold, refunded'],
    ])
      expect(await resolveInBrowser(page, key(reason!), 'Dismiss…', { reason: why! })).toMatch(/dismiss/i);
    for (const [id, why] of [
      [refund, 'ticket 106: refund of half the pack'],
      [dispute, 'ticket 107: chargeback lost'],
    ])
      expect(await resolveInBrowser(page, id, 'Reverse…', { reason: why! })).toMatch(/revers|took|taken/i);

    await page.click('nav >> text=Review queue');
    expect(await page.textContent('main')).toContain('Nothing here needs a person.');
    expect(await page.locator('tr:has-text("re_"), tr:has-text("dp_")').count()).toBe(0);

    const after = JSON.parse((await cli(['review', '--json'])).stdout);
    expect([after.open, after.entries, after.reversals]).toEqual([0, [], []]);
    expect(
      query(
        db,
        'SELECT user_id, credits, payment_key, actor, reason FROM credit_ledger WHERE id > ? ORDER BY id',
        lastDemoEntry,
      ),
    ).toEqual([
      {
        user_id: '6',
        credits: 299,
        payment_key: key('ambiguous_email'),
        actor: 'sam',
        reason: 'ticket 101: Frank Novak paid, name on the card',
      },
      {
        user_id: '1',
        credits: 99,
        payment_key: key('no_user'),
        actor: 'sam',
        reason: 'ticket 102: Alice paid from her other address',
      },
      {
        user_id: '1',
        credits: 99,
        payment_key: key('conflicting_ids'),
        actor: 'sam',
        reason: 'ticket 103: Alice bought it, Bob id was stale',
      },
      { user_id: '1', credits: -250, payment_key: refund, actor: 'sam', reason: 'ticket 106: refund of half the pack' },
      { user_id: '2', credits: -200, payment_key: dispute, actor: 'sam', reason: 'ticket 107: chargeback lost' },
    ]);
    // Every entry of the queue closed, each by her (the two dismissals leave no ledger entry: here is their record).
    const closed = query<{ resolved_by: string; status: string }>(
      db,
      'SELECT resolved_by, status FROM stripe_credits_review ORDER BY payment_key',
    );
    expect(closed).toHaveLength(7);
    expect(closed.every((r) => r.resolved_by === 'sam' && r.status !== 'open')).toBe(true);
    const balance = await cli(['balance', '1', '--json']);
    expect(JSON.parse(balance.stdout).balance).toBe(1000 + 99 + 99 - 250);
    expect(JSON.parse(balance.stdout).entries.filter((e: { actor: string }) => e.actor === 'sam')).toHaveLength(3);

    // The README's picture of the runs page: a month of hourly runs behind the demo's, as an admin sees it.
    const seeded = seedConsoleHistory(db, Math.floor(Date.now() / 1000));
    await page.click('button:has-text("Sign out")');
    await signIn(page, 'ada');
    await page.click('nav >> text=Runs');
    expect(await page.locator('figure.chart svg').count()).toBe(2);
    expect(await page.locator('main table tr').count()).toBe(21);
    expect(seeded.runs).toBeGreaterThan(28 * 24);
    await page.screenshot({ path: join(SHOTS, 'console-runs.png'), fullPage: true });
  });
});

/** A payment the nightly run could not match (queued for review), and the console's accounts, made by the CLI. */
async function queuedPayment(w: ConsoleWorld, accounts: [string, string][]): Promise<string> {
  const pi = w.sim.store.createCheckoutPayment({
    created: now() - 2 * DAY,
    email: 'ann.work@example.org',
    amount: 2500,
  }).paymentIntent!.id;
  expect((await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes'])).code).toBe(3);
  for (const [name, role] of accounts)
    expect((await w.cli(['console', 'user', 'add', name, '--role', role], `${PASSWORD}\n`)).code).toBe(0);
  return pi;
}

/** A fresh browser context (its own cookies: another person at another desk), signed in as `name`. */
async function signedIn(test: TestContext, url: string, name: string): Promise<Page> {
  const context = await browser.newContext();
  test.onTestFinished(() => context.close());
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await signIn(page, name);
  return page;
}

/** Submits the form `selector` of the page as a person would, and the server's answer to it. */
async function submit(page: Page, selector: string): Promise<{ status: number; said: string }> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click(`${selector} button[type=submit]`),
  ]);
  await page.waitForLoadState();
  // A refusal before any page (no CSRF token) is plain text: read the body.
  return { status: response.status(), said: (await page.textContent('body')) ?? '' };
}

/** A form the page never offered, posted from the page itself (its cookies, its CSRF token): what a forged write looks like. */
async function forge(page: Page, action: string, fields: Record<string, string>): Promise<{ status: number }> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    // A script of the page's own (the tests are type-checked without the DOM's types, hence a string).
    page.evaluate(`(() => {
      const form = document.createElement('form');
      Object.assign(form, { method: 'post', action: ${JSON.stringify(action)} });
      const csrf = document.querySelector('input[name=csrf]').value;
      for (const [name, value] of Object.entries({ csrf, ...${JSON.stringify(fields)} })) {
        const input = document.createElement('input');
        Object.assign(input, { type: 'hidden', name, value });
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    })()`),
  ]);
  await page.waitForLoadState();
  return { status: response.status() };
}

const ledger = (w: ConsoleWorld) => w.app.query('SELECT user_id, credits, actor FROM credit_ledger ORDER BY id');

/**
 * The console's defences as a browser meets them (console.test.ts and console-security.test.ts hold
 * the HTTP-level detail): each person a browser context of their own, one browser for all.
 */
describe.each(engines())('console defences in a browser (%s)', (engine) => {
  it('two people confirm the same assign at once from two browsers: one entry, one page says done, the other refuses', async (test) => {
    const w = await consoleWorld(engine, test);
    const pi = await queuedPayment(w, [
      ['sam', 'support'],
      ['sue', 'support'],
    ]);
    const { url } = await w.serve();
    const pages = await Promise.all(['sam', 'sue'].map((name) => signedIn(test, url, name)));
    for (const [i, page] of pages.entries()) {
      await page.goto(`${url}/assign?payment=${pi}`);
      await page.fill('#user', String(i + 1));
      await page.fill('#reason', 'ticket 4711');
      await page.click('button:has-text("Preview")');
      expect(await page.textContent('main')).toContain('+25');
    }
    const results = await Promise.all(pages.map((page) => submit(page, 'form[action="/assign"]')));
    const rows = await ledger(w);
    expect(rows).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === 200);
    const loser = results[1 - winner]!;
    expect(results[winner]!.said).toContain(`Credited 25 credits to user ${winner + 1}`);
    expect(rows).toEqual([{ user_id: String(winner + 1), credits: 25, actor: ['sam', 'sue'][winner] }]);
    expect(loser.status).toBe(409);
    expect(loser.said).toMatch(/already credited/i);
    expect(loser.said).not.toContain('Credited 25');
  });

  it('a viewer sees no write button, and a write forged from her own page (with its CSRF token) is refused by the server', async (test) => {
    const w = await consoleWorld(engine, test);
    const pi = await queuedPayment(w, [['vera', 'viewer']]);
    const { url } = await w.serve();
    const page = await signedIn(test, url, 'vera');
    expect(await page.textContent('main')).toContain(pi);
    // The write links and forms of the page itself (the header links only to the pages her role may open).
    const writes = ['assign', 'dismiss', 'reversal', 'adjust', 'reassign']
      .map((path) => `main a[href^="/${path}"]`)
      .concat('main form[method=post]')
      .join(', ');
    expect(await page.locator(writes).count()).toBe(0);
    await page.goto(`${url}/lookup?q=${pi}`);
    expect(await page.textContent('main')).toContain(pi);
    expect(await page.locator(writes).count()).toBe(0);

    const assign = await forge(page, '/assign', { payment: pi, user: '1', reason: 'ticket 4711' });
    expect(assign.status).toBe(403);
    expect(await page.textContent('[role=alert]')).toContain('needs support');
    await page.goto(`${url}/user/2`);
    const adjust = await forge(page, '/adjust', { user: '2', credits: '+40', reason: 'goodwill' });
    expect(adjust.status).toBe(403);
    expect(await ledger(w)).toEqual([]);
  });

  it('a confirm whose CSRF field was removed from the page is refused, and nothing is written', async (test) => {
    const w = await consoleWorld(engine, test);
    const pi = await queuedPayment(w, [['sam', 'support']]);
    const { url } = await w.serve();
    const page = await signedIn(test, url, 'sam');
    await page.goto(`${url}/assign?payment=${pi}`);
    await page.fill('#user', '1');
    await page.fill('#reason', 'ticket 4711');
    await page.click('button:has-text("Preview")');
    await page.evaluate(`document.querySelector('form[action="/assign"] input[name=csrf]').remove()`);
    const r = await submit(page, 'form[action="/assign"]');
    expect(r.status).toBe(403);
    expect(r.said).not.toContain('Credited');
    expect(await ledger(w)).toEqual([]);
  });

  it('five wrong passwords typed into the sign-in form lock the account: the right one then gets the same refusal', async (test) => {
    const w = await consoleWorld(engine, test);
    await queuedPayment(w, [['sam', 'support']]);
    const { url } = await w.serve();
    const context = await browser.newContext();
    test.onTestFinished(() => context.close());
    const page = await context.newPage();
    await page.goto(`${url}/login`);
    const attempt = async (password: string) => {
      await page.fill('#name', 'sam');
      await page.fill('#password', password);
      return submit(page, 'form');
    };
    const wrong = [];
    for (let i = 0; i < 5; i++) wrong.push(await attempt(`wrong guess ${i}`));
    expect(wrong.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    const refusal = await page.textContent('[role=alert]');
    const right = await attempt(PASSWORD);
    expect(right.status).toBe(401);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.textContent('[role=alert]')).toBe(refusal);
    await page.goto(`${url}/review`);
    expect(new URL(page.url()).pathname).toBe('/login');
    const list = await w.cli(['console', 'user', 'list', '--json']);
    expect(JSON.parse(list.stdout).accounts[0].lockedUntil).not.toBeNull();
  });
});
