import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { termLines, termText } from '../../src/cli/term-text.js';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createAppDb, runCli, tempDir, writeJson, now, DAY, type CliResult } from '../helpers/cli.js';

/**
 * Names, emails, ids and metadata come from payers (through Stripe) and from the app's users. In the
 * human-readable output of reconcile, review and lookup, a control character in them is shown
 * escaped, never sent to the terminal: no clear-screen, no OSC-8 link, no forged line, no text
 * reversed by a bidi override. --json keeps the exact text.
 */

const KEY = 'sk_test_termEscapesE2eKey5b8q';
const CLEAR = '\x1b[2J';
const LINK = '\x1b]8;;https://evil.example/\x07click here\x1b]8;;\x07';
const FORGED = '\r\nCredited 5000 credits to user 1';
const RTL = '\u202egnp.exe';

const NASTY_NAME = `Mallory${CLEAR}${LINK}`;
const NASTY_USER = `Eve${FORGED}${RTL}`;

/** Any character that drives a terminal: C0 controls but the newline, DEL, C1 controls, bidi overrides and isolates. */
// eslint-disable-next-line no-control-regex -- finding raw control characters is what the test is for
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function expectEscaped(r: CliResult, what: string): void {
  expect(r.stdout, `${what}: stdout holds a raw control character`).not.toMatch(RAW);
  expect(r.stderr, `${what}: stderr holds a raw control character`).not.toMatch(RAW);
  expect(r.stdout, `${what}: forged line`).not.toMatch(/^Credited 5000 credits/m);
}

const tmp = tempDir('sc-escapes-');
let sim: StripeSimulator;
let cli: (args: string[]) => Promise<CliResult>;
let since: number;
let nobodyPayment: string;

beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY] });
  const db = createAppDb(join(tmp.dir, 'app.db'), [
    { id: 1, email: 'ann@example.com', name: 'Ann' },
    { id: 2, email: 'shared@example.com', name: NASTY_USER },
    { id: 3, email: 'shared@example.com', name: 'Cat' },
  ]);
  const cfg = writeJson(join(tmp.dir, 'config.json'), { credits: { unitAmountPerCredit: { usd: 100 } } });
  cli = (args) =>
    runCli([...args, '--db', db, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      timeoutMs: 120_000,
    });
  since = now() - 7 * DAY;
  const t = (days: number) => now() - days * DAY;
  // In review: two users share the email; the payer's name is hostile.
  sim.store.createCheckoutPayment({ created: t(3), email: 'shared@example.com', name: NASTY_NAME, amount: 1500 });
  // In review: nobody has this email or id; name, id and metadata are hostile.
  nobodyPayment = sim.store.createCheckoutPayment({
    created: t(2),
    email: 'nobody@example.org',
    name: `Bob${FORGED}`,
    clientReferenceId: `77${CLEAR}`,
    metadata: { note: LINK },
    amount: 900,
  }).paymentIntent!.id;
  // Credited to user 2, whose name in the app is hostile.
  sim.store.createCheckoutPayment({ created: t(1), clientReferenceId: '2', amount: 500 });
});

afterAll(async () => {
  await sim.close();
  tmp.cleanup();
});

describe('control characters from payers and users are shown escaped', () => {
  it('reconcile, review and lookup print them escaped; --json keeps them exact', async () => {
    const run = await cli(['reconcile', '--since', String(since), '--yes']);
    expect(run.code, run.stderr).toBe(3);
    expectEscaped(run, 'reconcile');
    expect(run.stdout).toContain('Mallory\\x1b[2J\\x1b]8;;https://evil.example/\\x07click here');
    expect(run.stdout).toContain('Bob\\r\\nCredited 5000 credits to user 1');
    expect(run.stdout).toContain('77\\x1b[2J');

    const review = await cli(['review']);
    expect(review.code, review.stderr).toBe(0);
    expectEscaped(review, 'review');
    expect(review.stdout).toContain('Mallory\\x1b[2J');
    expect(review.stdout).toContain('Eve\\r\\nCredited 5000 credits to user 1\\u202egnp.exe');

    const payment = await cli(['lookup', nobodyPayment]);
    expect(payment.code, payment.stderr).toBe(0);
    expectEscaped(payment, 'lookup payment');
    expect(payment.stdout).toContain('Bob\\r\\nCredited 5000 credits to user 1');
    expect(payment.stdout).toContain('77\\x1b[2J');

    const user = await cli(['lookup', '2']);
    expect(user.code, user.stderr).toBe(0);
    expectEscaped(user, 'lookup user');
    expect(user.stdout).toContain('Eve\\r\\nCredited 5000 credits to user 1\\u202egnp.exe');

    const balance = await cli(['balance', '2']);
    expect(balance.code, balance.stderr).toBe(0);
    expectEscaped(balance, 'balance');

    // --json: the exact text, escaped the JSON way.
    const json = await cli(['review', '--json']);
    const names = (
      JSON.parse(json.stdout) as { entries: Array<{ name: string | null; candidates: Array<{ name: string | null }> }> }
    ).entries.flatMap((e) => [e.name, ...e.candidates.map((c) => c.name)]);
    expect(names).toEqual(expect.arrayContaining([NASTY_NAME, NASTY_USER, `Bob${FORGED}`]));
  }, 300_000);
});

describe('termText', () => {
  it('escapes C0, DEL, C1 and bidi controls, and nothing else', () => {
    expect(termText('a\x1b[2Jb\r\n\t\x00\x7f\x9b\u202e\u2066')).toBe(
      'a\\x1b[2Jb\\r\\n\\t\\x00\\x7f\\x9b\\u202e\\u2066',
    );
    expect(termLines('one\ntwo\x07')).toBe('one\ntwo\\x07');
    const plain = 'Zoë Müller <zoe@example.com> 日本 ✓ → "quoted" \\ back';
    expect(termText(plain)).toBe(plain);
    expect(termText(termText('\x1b'))).toBe('\\x1b');
  });
});
