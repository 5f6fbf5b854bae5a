import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { audit } from '../../src/app/audit.js';
import { resolveSettings } from '../../src/config.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { SimulatorStore } from '../../src/simulator/store.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type AppDb, type EngineName } from '../helpers/engines.js';

/** A --json document as the tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type JsonDoc = any;

/**
 * `audit` and `audit resolve` through the real CLI, the simulator behind the real SDK, and a real
 * ledger on each engine, with one planted problem per finding code.
 */

const KEY = 'sk_test_e2e_audit';
const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
];
/** 1 credit per dollar. */
const CONFIG = { credits: { unitAmountPerCredit: { usd: 100 } } };

const NOT_FOUND = 'pi_3MtwBwLkdIwHu7ix0NoSuch01';
const LIVE_SESSION = 'cs_live_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ01';

async function world(
  engine: EngineName,
  test: TestContext,
  config: object = CONFIG,
  /** Runs before reconcile: what the app wrote by itself. */
  before?: (app: AppDb, store: SimulatorStore) => Promise<void>,
) {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-audit-');
  const app = await createAppDb(engine, tmp.dir, USERS);
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const cfg = writeJson(join(tmp.dir, 'config.json'), config);
  const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
  const cli = (args: string[]): Promise<CliResult> =>
    runCli([...args, '--db', app.url, '--config', cfg], { cwd: tmp.dir, env });
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    let doc: JsonDoc;
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    return { ...r, doc };
  };
  const since = now() - 3 * DAY;
  // Three good purchases, credited by reconcile an hour ago (their entries come before any planted one).
  const buy = (user: string, amount: number) =>
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: user, amount });
  const good = [buy('1', 1000), buy('2', 2000), buy('1', 3000)];
  await before?.(app, sim.store);
  const run = await cli(['reconcile', '--since', String(since)]);
  expect(run.code, run.stderr).toBe(0);
  await app.exec('UPDATE credit_ledger SET created_at = ?', new Date((now() - 3600) * 1000).toISOString());
  const entryOf = async (key: string) =>
    String(
      (await app.query<{ id: number }>('SELECT id FROM credit_ledger WHERE payment_key = ? ORDER BY id', key))[0]!.id,
    );
  const settings = () => resolveSettings({ db: app.url, config: cfg }, env, tmp.dir);
  return { sim, app, cli, json, good, entryOf, settings, since };
}

type World = Awaited<ReturnType<typeof world>>;

/** A purchase entry as an app with its own fulfilment (or a bug) might have written it. */
async function plant(
  w: World,
  e: { user: string; credits: number; key: string; session?: string | null; pi?: string | null },
): Promise<string> {
  await w.app.exec(
    `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, amount, currency, livemode, actor, reason, run_id, created_at)
     VALUES (?, ?, 'purchase', ?, ?, ?, NULL, NULL, 0, 'app', NULL, NULL, ?)`,
    e.user,
    e.credits,
    e.key,
    e.session ?? (e.key.startsWith('cs_') ? e.key : null),
    e.pi ?? (e.key.startsWith('pi_') ? e.key : null),
    new Date((now() - 60) * 1000).toISOString(),
  );
  return w.entryOf(e.key);
}

/** One planted problem per finding code; returns the entry ids by code. */
async function plantProblems(w: World): Promise<Record<string, string>> {
  const { store } = w.sim;
  const expired = store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', status: 'expired' });
  const sub = store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', mode: 'subscription' });
  // Paid by Ben, credited to Ann (an app that matched by name).
  const bens = store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 2000 });
  const anns = store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 3000 });
  const [refunded, disputed, twice] = w.good;
  store.refund(refunded!.paymentIntent!.id);
  store.openDispute(disputed!.paymentIntent!.id);
  return {
    not_found: await plant(w, { user: '1', credits: 10, key: NOT_FOUND }),
    not_paid: await plant(w, { user: '1', credits: 10, key: expired.session.id }),
    other_mode: await plant(w, { user: '1', credits: 10, key: LIVE_SESSION }),
    not_a_credit_purchase: await plant(w, { user: '1', credits: 10, key: sub.session.id }),
    wrong_user: await plant(w, { user: '1', credits: 20, key: bens.paymentIntent!.id, session: bens.session.id }),
    amount_differs: await plant(w, { user: '1', credits: 99, key: anns.paymentIntent!.id, session: anns.session.id }),
    // The same payment again, under its session id (reconcile credited its PaymentIntent id).
    duplicate: await plant(w, { user: '1', credits: 30, key: twice!.session.id, pi: null }),
    refunded: await w.entryOf(refunded!.paymentIntent!.id),
    disputed: await w.entryOf(disputed!.paymentIntent!.id),
  };
}

function expectError(r: CliResult, pattern: RegExp): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^stripe-credits: \S/);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe.each(engines())('audit (%s)', (engine) => {
  describe.concurrent('audit', () => {
    it('a ledger Stripe backs entry by entry: no findings, exit 0', async (test) => {
      const w = await world(engine, test);
      const r = await w.json(['audit']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc.counts).toEqual({ entries: 3, backed: 3, findings: 0 });
      expect(r.doc.findings).toEqual([]);
      expect(Object.keys(r.doc)).toEqual(['window', 'counts', 'findings']);
    });

    it('lists exactly the planted problems, one code each, and nothing else; exit 3', async (test) => {
      const w = await world(engine, test);
      const planted = await plantProblems(w);
      const r = await w.json(['audit', '--since', '2d']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.doc.counts).toEqual({ entries: 10, backed: 1, findings: 9 });
      const got = Object.fromEntries(r.doc.findings.map((f: JsonDoc) => [f.code, f.entryId]));
      expect(got).toEqual(planted);
      const by = (code: string) => r.doc.findings.find((f: JsonDoc) => f.code === code);
      expect(by('wrong_user')).toMatchObject({ userId: '1', credits: 20, expected: { userId: '2', credits: 20 } });
      expect(by('amount_differs')).toMatchObject({ credits: 99, expected: { userId: '1', credits: 30 } });
      expect(by('refunded')).toMatchObject({ userId: '1', credits: 10, expected: { userId: '1', credits: 0 } });
      expect(by('disputed')).toMatchObject({ userId: '2', credits: 20, expected: { userId: '2', credits: 0 } });
      expect(by('not_found')).toMatchObject({ paymentRef: NOT_FOUND, expected: { userId: null, credits: 0 } });

      // The human output: grouped by code, the credits at stake per user.
      const human = await w.cli(['audit', '--since', '2d']);
      expect(human.code).toBe(3);
      expect(human.stdout).toContain('10 purchase entries');
      expect(human.stdout).toMatch(/^amount_differs \(1\); credits at stake: user 1: 69$/m);
      expect(human.stdout).toMatch(/^wrong_user \(1\); credits at stake: user 1: 20$/m);
      expect(human.stdout).toMatch(/^disputed \(1\); credits at stake: user 2: 20$/m);
    });

    it('costs the sweep of the window and a request per entry the sweep did not find', async (test) => {
      const w = await world(engine, test);
      await plantProblems(w);
      const since = now() - 2 * DAY;
      const dry = await w.json(['reconcile', '--dry-run', '--since', String(since)]);
      const report = await audit({ settings: w.settings(), cwd: process.cwd(), since, now: now() });
      expect(report.counts.findings).toBe(9);
      // Two more lists (refunds, disputes) and one read each for the pi_ not found, the expired and
      // the subscription session (the cs_live_ id costs none); nothing per payment the sweep found.
      expect(report.requests).toBeGreaterThan(0);
      expect(report.requests).toBeLessThanOrEqual(dry.doc.requests + 2 + 3);
    });

    it('an entry naming a live-mode PaymentIntent in a test-mode ledger is other_mode', async (test) => {
      const w = await world(engine, test);
      const live = w.sim.store.createPaymentIntent({
        created: now() - DAY,
        amount: 1000,
        livemode: true,
      }).paymentIntent;
      const entry = await plant(w, { user: '1', credits: 10, key: live.id });
      const r = await w.json(['audit']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.doc.findings).toEqual([expect.objectContaining({ entryId: entry, code: 'other_mode' })]);
    });

    it('bad input: exit 2, one line', async (test) => {
      const w = await world(engine, test);
      expectError(await w.cli(['audit', '--since', 'yesterday-ish']), /--since/);
      expectError(await w.cli(['audit', '--since', '1d', '--until', '2d']), /--since .* must be before --until/);
    });
  });

  describe.concurrent('audit resolve', () => {
    it('accepts an entry, or reverses it with a correction, once; audit lists it no more', async (test) => {
      const w = await world(engine, test);
      const planted = await plantProblems(w);

      const accept = await w.json([
        'audit',
        'resolve',
        planted.amount_differs!,
        '--reason',
        'a promotion',
        '--actor',
        'kim',
      ]);
      expect(accept.code, accept.stderr).toBe(0);
      expect(accept.doc).toMatchObject({ entryId: planted.amount_differs, outcome: 'accepted', actor: 'kim' });
      expect(accept.doc.findings).toEqual(['amount_differs']);

      const reverse = await w.cli([
        'audit',
        'resolve',
        planted.wrong_user!,
        '--reverse',
        '--reason',
        'matched by name',
      ]);
      expect(reverse.code, reverse.stderr).toBe(0);
      expect(reverse.stdout).toMatch(/reversed: correction entry \d+ takes 20 credits back from user 1/);
      const corrections = await w.app.query<{ user_id: string; credits: number; reason: string }>(
        "SELECT user_id, credits, reason FROM credit_ledger WHERE kind = 'correction'",
      );
      expect(corrections).toEqual([{ user_id: '1', credits: -20, reason: 'matched by name' }]);

      const before = await w.app.fingerprint();
      expectError(
        await w.cli(['audit', 'resolve', planted.wrong_user!, '--reverse', '--reason', 'again']),
        /resolved already/,
      );
      expectError(await w.cli(['audit', 'resolve', planted.amount_differs!, '--reason', 'again']), /resolved already/);
      expect(await w.app.fingerprint()).toBe(before);

      const after = await w.json(['audit', '--since', '2d']);
      expect(after.code).toBe(3);
      const codes = after.doc.findings.map((f: JsonDoc) => f.code).sort();
      expect(codes).toEqual([
        'disputed',
        'duplicate',
        'not_a_credit_purchase',
        'not_found',
        'not_paid',
        'other_mode',
        'refunded',
      ]);
    });

    it('refuses, with nothing written: an entry Stripe backs, an unknown entry, no --reason', async (test) => {
      const w = await world(engine, test);
      const backed = await w.entryOf(w.good[2]!.paymentIntent!.id);
      const before = await w.app.fingerprint();
      expectError(await w.cli(['audit', 'resolve', backed, '--reason', 'looks fine']), /has no finding/);
      expectError(await w.cli(['audit', 'resolve', '987654', '--reason', 'x']), /no purchase entry 987654/);
      expectError(await w.cli(['audit', 'resolve', backed]), /--reason/);
      expectError(await w.cli(['audit', 'resolve', backed, '--reason', '  ']), /--reason/);
      expect(await w.app.fingerprint()).toBe(before);
    });
  });

  describe.concurrent('a mapped app ledger', () => {
    const MAPPED = {
      ...CONFIG,
      ledger: {
        table: 'credit_transactions',
        columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_at' },
        set: { type: 'purchase' },
        setManual: { type: 'adjustment', note: 'by support' },
      },
    };
    const TABLE =
      engine === 'postgres'
        ? `CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL,
             stripe_id TEXT, type TEXT NOT NULL, note TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`
        : `CREATE TABLE credit_transactions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL,
             amount INTEGER NOT NULL, stripe_id TEXT, type TEXT NOT NULL, note TEXT, created_at TEXT NOT NULL)`;

    it('one payment under its session id and its PaymentIntent id is a duplicate; resolve --reverse takes it back', async (test) => {
      let pi = '';
      const w = await world(engine, test, MAPPED, async (app, store) => {
        await app.exec(TABLE);
        // The app's own webhook credited one payment twice: once by session, once by PaymentIntent.
        const p = store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 1500 });
        pi = p.paymentIntent!.id;
        const at = (s: number) => new Date((now() - s) * 1000).toISOString();
        const row =
          'INSERT INTO credit_transactions (user_id, amount, stripe_id, type, created_at) VALUES (2, 15, ?, ?, ?)';
        await app.exec(row, p.session.id, 'purchase', at(7200));
        await app.exec(row, pi, 'purchase', at(7199));
      });
      const ids = await w.app.query<{ id: number; stripe_id: string }>(
        'SELECT id, stripe_id FROM credit_transactions ORDER BY id',
      );
      expect(ids).toHaveLength(5);
      const second = String(ids.find((r) => r.stripe_id === pi)!.id);

      const r = await w.json(['audit']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.doc.counts).toEqual({ entries: 5, backed: 4, findings: 1 });
      expect(r.doc.findings).toEqual([
        expect.objectContaining({ entryId: second, userId: '2', credits: 15, paymentRef: pi, code: 'duplicate' }),
      ]);

      const res = await w.cli(['audit', 'resolve', second, '--reverse', '--reason', 'credited twice by the webhook']);
      expect(res.code, res.stderr).toBe(0);
      const rows = await w.app.query<{ user_id: number; amount: number; type: string }>(
        "SELECT user_id, amount, type FROM credit_transactions WHERE type = 'adjustment'",
      );
      expect(rows).toEqual([{ user_id: 2, amount: -15, type: 'adjustment' }]);
      const after = await w.json(['audit']);
      expect(after.code, after.stderr).toBe(0);
      expect(after.doc.counts).toEqual({ entries: 4, backed: 4, findings: 0 });
    });
  });
});
