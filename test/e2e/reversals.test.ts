import { join } from 'node:path';
import Stripe from 'stripe';
import { describe, expect, it, type TestContext } from 'vitest';
import { createStripeCredits, type StripeCredits } from '../../src/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type EngineName } from '../helpers/engines.js';

/** A --json document as the tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed output
type JsonDoc = any;

/**
 * SPEC "Reversals" end to end: refunds and disputes of credited payments taken back (or given
 * back) by `reconcile`, window and incremental runs, and by the library's handleWebhook, under each
 * policy; the real SDK against the simulator, the CLI, real databases on both engines.
 */

const KEY = 'sk_test_e2e_reversals';
const SECRET = 'whsec_e2e_reversals';
const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
];
const credits = { unitAmountPerCredit: { usd: 10 } };

interface Ledger {
  user_id: string;
  credits: number;
  kind: string;
  payment_key: string;
}

async function world(
  engine: EngineName,
  test: TestContext,
  policy: Record<string, string> = {},
  more: Record<string, unknown> = {},
) {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-reversals-');
  const app = await createAppDb(engine, tmp.dir, USERS);
  const libs: StripeCredits[] = [];
  test.onTestFinished(async () => {
    // The library first: its keep-alive connections would hold the simulator open.
    for (const l of libs) await l.close();
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const cfg = writeJson(join(tmp.dir, 'config.json'), { credits, reversals: policy, ...more });
  const since = now() - 3 * DAY;
  const cli = (args: string[], opts: { process?: boolean } = {}): Promise<CliResult> =>
    runCli([...args, '--db', app.url, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      ...opts,
    });
  /** A window run over the last three days (`--json`); `process`: the built CLI as a child (a race with this process). */
  const reconcile = async (...more: string[]) => {
    const child = more[0] === 'process';
    const flags = child ? more.slice(1) : more;
    const r = await cli(['reconcile', '--since', String(since), '--json', ...flags], { process: child });
    expect(r.stderr).not.toMatch(/^\s+at /m);
    return { ...r, doc: JSON.parse(r.stdout) as JsonDoc };
  };
  /** Ann pays $10 (100 credits) a day ago. */
  const buy = (userId = '1', amount = 1000) =>
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: userId, amount }).paymentIntent!.id;
  const ledger = () => app.query<Ledger>('SELECT user_id, credits, kind, payment_key FROM credit_ledger ORDER BY id');
  const entries = async (kind: string) =>
    (await ledger()).filter((e) => e.kind === kind).map((e) => ({ ...e, credits: Number(e.credits) }));
  const review = () =>
    app.query<{ payment_key: string; status: string; credits: number }>(
      "SELECT payment_key, status, credits FROM stripe_credits_review WHERE source IS NOT NULL AND source <> 'payment' ORDER BY payment_key",
    );
  const library = () => {
    const lib = createStripeCredits({
      db: app.url,
      stripeApiKey: KEY,
      stripeApiBase: sim.url,
      config: { credits, reversals: policy },
      cwd: tmp.dir,
    });
    libs.push(lib);
    return lib;
  };
  /** Requests for one PaymentIntent's whole lists of refunds and disputes (`?payment_intent=…`). */
  const wholeLists = () =>
    sim.requests.filter((r) => /^\/v1\/(refunds|disputes)$/.test(r.path) && r.query.payment_intent !== undefined)
      .length;
  return { sim, app, tmp, cli, reconcile, buy, ledger, entries, review, since, library, wholeLists };
}

const DEBIT = { refunds: 'debit', disputes: 'debit' };

describe.each(engines())('reversals in reconcile (%s)', (engine) => {
  describe.concurrent('policies', () => {
    it('debit: a full refund of a credited purchase takes all its credits back, once', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, undefined, { created: -60 })!;

      const run = await w.reconcile();
      expect(run.code, run.stderr).toBe(0);
      expect(run.doc.counts.reversed).toBe(1);
      expect(Object.keys(run.doc.counts)).toEqual([
        'payments',
        'credited',
        'wouldCredit',
        'alreadyCredited',
        'needsReview',
        'pending',
        'skipped',
        'reversed',
      ]);
      expect(run.doc.reversals).toEqual([
        { id: re.id, paymentKey: pi, userId: '1', credits: -100, status: 'reversed', reason: null },
      ]);
      expect(await w.entries('reversal')).toEqual([
        { user_id: '1', credits: -100, kind: 'reversal', payment_key: re.id },
      ]);

      // Created in the window: the window's lists hold all its refunds, no request more.
      expect(w.wholeLists()).toBe(0);
      // A window starting after the payment: its refunds and disputes are read whole, once each list.
      const later = await w.cli(['reconcile', '--since', String(now() - 3600), '--json']);
      expect(later.code, later.stderr).toBe(0);
      expect(JSON.parse(later.stdout).reversals).toEqual([expect.objectContaining({ status: 'already_reversed' })]);
      expect(w.wholeLists()).toBe(2);

      const again = await w.reconcile();
      expect(again.code).toBe(0);
      expect(again.doc.counts.reversed).toBe(0);
      expect(again.doc.reversals).toEqual([expect.objectContaining({ id: re.id, status: 'already_reversed' })]);
      expect(await w.entries('reversal')).toHaveLength(1);
    });

    it('review (the default): the refund waits in the review queue, exit 3 once', async (test) => {
      const w = await world(engine, test);
      const pi = w.buy();
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, 400, { created: -60 })!;

      const run = await w.reconcile();
      expect(run.code, run.stderr).toBe(3);
      expect(run.doc.reversals).toEqual([
        {
          id: re.id,
          paymentKey: pi,
          userId: '1',
          credits: -40,
          status: 'needs_review',
          reason: 'refunded_after_credit',
        },
      ]);
      expect(await w.entries('reversal')).toEqual([]);
      expect(await w.review()).toEqual([{ payment_key: re.id, status: 'open', credits: -40 }]);
      // Already in the queue: nothing new for a person, exit 0.
      expect((await w.reconcile()).code).toBe(0);
    });

    it('ignore: nothing written, nothing queued', async (test) => {
      const w = await world(engine, test, { refunds: 'ignore', disputes: 'ignore' });
      const pi = w.buy();
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, undefined, { created: -60 })!;
      const run = await w.reconcile();
      expect(run.code).toBe(0);
      expect(run.doc.reversals).toEqual([expect.objectContaining({ id: re.id, status: 'skipped', reason: 'ignored' })]);
      expect(await w.entries('reversal')).toEqual([]);
      expect(await w.review()).toEqual([]);
    });

    it('a refund of a payment never credited changes nothing and costs no request for its lists', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      w.sim.store.refund(pi, undefined, { created: -60 });
      const run = await w.reconcile();
      expect(run.code).toBe(0);
      expect(w.wholeLists()).toBe(0);
      expect(run.doc.items).toEqual([expect.objectContaining({ paymentKey: pi, status: 'skipped' })]);
      expect(run.doc.reversals).toEqual([expect.objectContaining({ status: 'skipped', reason: 'not_credited' })]);
      expect(await w.entries('reversal')).toEqual([]);
    });
  });

  describe.concurrent('amounts and reinstatements (debit)', () => {
    it('several partial refunds sum exactly to the rounded-down proportion', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy('1', 999); // 99 credits
      expect((await w.reconcile()).code).toBe(0);
      w.sim.store.refund(pi, 333, { created: -300 });
      expect((await w.reconcile()).code).toBe(0);
      w.sim.store.refund(pi, 333, { created: -200 });
      w.sim.store.refund(pi, 100, { created: -100 });
      expect((await w.reconcile()).code).toBe(0);
      const sum = (await w.entries('reversal')).reduce((a, e) => a + e.credits, 0);
      expect(sum).toBe(-Math.floor((99 * 766) / 999));
      expect(await w.entries('reversal')).toHaveLength(3);
    });

    it('a failed refund gives the credits back; a lost dispute takes what refunds have not; a won one gives it back', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      const other = w.buy('2', 2000);
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, 500, { created: -600 })!;
      const dp = w.sim.store.openDispute(pi, { created: -500 });
      const lost = w.sim.store.openDispute(other, { created: -400 });
      expect((await w.reconcile()).code).toBe(0);
      expect((await w.entries('reversal')).map((e) => [e.payment_key, e.credits])).toEqual(
        expect.arrayContaining([
          [re.id, -50],
          [dp.id, -50],
          [lost.id, -200],
        ]),
      );
      w.sim.store.failRefund(re.id, { at: -300 });
      w.sim.store.closeDispute(dp.id, 'won', -200);
      w.sim.store.closeDispute(lost.id, 'lost', -100);
      const run = await w.reconcile();
      expect(run.code, run.stderr).toBe(0);
      expect((await w.entries('reinstatement')).map((e) => [e.payment_key, e.user_id, e.credits])).toEqual(
        expect.arrayContaining([
          [re.id, '1', 50],
          [dp.id, '1', 50],
        ]),
      );
      const balance = async (u: string) =>
        (await w.ledger()).filter((e) => e.user_id === u).reduce((a, e) => a + Number(e.credits), 0);
      expect(await balance('1')).toBe(100);
      expect(await balance('2')).toBe(0);
    });
  });

  describe.concurrent('runs', () => {
    it('a dry run writes nothing, says would_reverse and exits 3', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, undefined, { created: -60 })!;
      const before = await w.app.fingerprint();
      const run = await w.reconcile('--dry-run');
      expect(run.code, run.stderr).toBe(3);
      expect(run.doc.counts.reversed).toBe(1);
      expect(run.doc.reversals).toEqual([
        expect.objectContaining({ id: re.id, status: 'would_reverse', credits: -100 }),
      ]);
      expect(await w.app.fingerprint()).toBe(before);

      const human = await w.cli(['reconcile', '--since', String(w.since), '--dry-run']);
      expect(human.code).toBe(3);
      expect(human.stdout).toContain(`- ${re.id} (refund of ${pi}): would take back 100 credits from user 1`);
    });

    it('an incremental run picks up a refund made after the last run from its events', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, 250, { created: -30 })!;
      const r = await w.cli(['reconcile', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as JsonDoc;
      expect(doc.source).toBe('events');
      expect(doc.reversals).toEqual([expect.objectContaining({ id: re.id, status: 'reversed', credits: -25 })]);
      expect(await w.entries('reversal')).toEqual([
        { user_id: '1', credits: -25, kind: 'reversal', payment_key: re.id },
      ]);
    });

    it('a payment skipped as refunded is credited once its refund fails: from the refund.failed event, and by a window run', async (test) => {
      const w = await world(engine, test, DEBIT);
      const [byEvent, byWindow] = [w.buy('1'), w.buy('2')];
      // Refunded an hour ago: its charge.refunded is older than an incremental run's overlap.
      const refunds = [byEvent, byWindow].map((pi) => w.sim.store.refund(pi, undefined, { created: -3600 })!);
      const first = await w.reconcile();
      expect(first.doc.items.map((d: JsonDoc) => [d.status, d.reason])).toEqual([
        ['skipped', 'refunded'],
        ['skipped', 'refunded'],
      ]);
      w.sim.store.failRefund(refunds[0]!.id, { at: -30 });
      const r = await w.cli(['reconcile', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as JsonDoc;
      expect(doc.source).toBe('events');
      expect(doc.counts.credited).toBe(1);
      expect(await w.entries('purchase')).toEqual([
        { user_id: '1', credits: 100, kind: 'purchase', payment_key: byEvent },
      ]);

      w.sim.store.failRefund(refunds[1]!.id, { at: -30 });
      const window = await w.reconcile();
      expect(window.doc.counts).toMatchObject({ credited: 1, alreadyCredited: 1 });
      // Again: nothing twice, and nothing taken back (the refunds failed).
      expect((await w.reconcile()).doc.counts).toMatchObject({ credited: 0, alreadyCredited: 2, reversed: 0 });
      expect((await w.entries('purchase')).map((e) => e.user_id).sort()).toEqual(['1', '2']);
      expect(await w.entries('reversal')).toEqual([]);
    });

    it('the human output says what was taken back from whom; a run without reversals prints as before', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      const first = await w.cli(['reconcile', '--since', String(w.since)]);
      expect(first.stdout).not.toMatch(/refund|dispute/i);
      const re = w.sim.store.refund(pi, undefined, { created: -60 })!;
      const run = await w.cli(['reconcile', '--since', String(w.since)]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`- ${re.id} (refund of ${pi}): taken back 100 credits from user 1`);
      expect(run.stdout).toContain('Refunds and disputes: 1 taken back (100 credits).');
    });
  });
});

describe.each(engines())('reversals in a mapped ledger with a balance column (%s)', (engine) => {
  it("takes back from the app's own table and the balance in the same write, for the app's own credits too", async (test) => {
    const sim = await startSimulator({ apiKeys: [KEY] });
    const tmp = tempDir('sc-reversals-mapped-');
    const app = await createAppDb(engine, tmp.dir, USERS);
    test.onTestFinished(async () => {
      await sim.close();
      await app.close();
      tmp.cleanup();
    });
    await app.exec(
      engine === 'postgres'
        ? 'CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, type TEXT NOT NULL)'
        : 'CREATE TABLE credit_transactions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, type TEXT NOT NULL)',
    );
    await app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
    const cfg = writeJson(join(tmp.dir, 'config.json'), {
      credits,
      reversals: DEBIT,
      ledger: {
        table: 'credit_transactions',
        columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id' },
        set: { type: 'purchase' },
        setManual: { type: 'adjustment' },
      },
      balance: { table: 'users', column: 'credits', key: 'id' },
    });
    // Ann's purchase the app credited itself (its own row and balance); Ben's the tool credits.
    const ann = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 })
      .paymentIntent!.id;
    const ben = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 2000 })
      .paymentIntent!.id;
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (1, 100, ?, 'purchase')",
      ann,
    );
    await app.exec('UPDATE users SET credits = 100 WHERE id = 1');
    const cli = (args: string[]) =>
      runCli([...args, '--db', app.url, '--config', cfg, '--since', String(now() - 3 * DAY), '--json'], {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      });
    expect((await cli(['reconcile'])).code).toBe(0);
    const reA = sim.store.refund(ann, undefined, { created: -60 })!;
    const reB = sim.store.refund(ben, 1000, { created: -60 })!;
    const run = await cli(['reconcile']);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as JsonDoc).counts.reversed).toBe(2);
    const rows = await app.query<{ user_id: number; amount: number; stripe_id: string; type: string }>(
      "SELECT user_id, amount, stripe_id, type FROM credit_transactions WHERE type = 'adjustment' ORDER BY stripe_id",
    );
    expect(rows.map((r) => [Number(r.user_id), Number(r.amount), r.stripe_id]).sort()).toEqual(
      [
        [1, -100, reA.id],
        [2, -100, reB.id],
      ].sort(),
    );
    const balances = await app.query<{ id: number; credits: number }>('SELECT id, credits FROM users ORDER BY id');
    expect(balances.map((b) => Number(b.credits))).toEqual([0, 100]);
    // Again: nothing moves twice.
    expect((await cli(['reconcile'])).code).toBe(0);
    expect(
      (await app.query('SELECT id, credits FROM users ORDER BY id')).map((b) =>
        Number((b as { credits: number }).credits),
      ),
    ).toEqual([0, 100]);
  });
});

describe.each(engines())('maxCreditsPerRun and reversals (%s)', (engine) => {
  it('credits taken back count toward the cap: over it a run writes nothing and exits 3, unless --yes', async (test) => {
    const w = await world(engine, test, DEBIT, { maxCreditsPerRun: 150 });
    const [a, b, c] = [w.buy('1'), w.buy('2'), w.buy('1')];
    expect((await w.reconcile('--yes')).doc.counts.credited).toBe(3);
    w.sim.store.refund(a, undefined, { created: -120 });
    // 100 credits taken back: under the cap.
    const one = await w.reconcile();
    expect(one.code, one.stderr).toBe(0);
    expect(one.doc.counts.reversed).toBe(1);

    w.sim.store.refund(b, undefined, { created: -60 });
    w.sim.store.refund(c, 600, { created: -60 });
    const before = await w.ledger();
    const stopped = await w.cli(['reconcile', '--since', String(w.since)]);
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(stopped.stderr).toMatch(
      /^stripe-credits: this run would write 160 credits \(0 added, 160 taken back or given back\), more than maxCreditsPerRun \(150\): nothing was written$/m,
    );
    expect(await w.ledger()).toEqual(before);

    // A dry run says so; --yes takes both back.
    const dry = await w.reconcile('--dry-run');
    expect(dry.code).toBe(3);
    expect(dry.doc.notes.join(' ')).toMatch(
      /160 credits \(0 added, 160 taken back or given back\), more than maxCreditsPerRun \(150\): a real run would stop unless --yes/,
    );
    const yes = await w.reconcile('--yes');
    expect(yes.code, yes.stderr).toBe(0);
    expect((await w.entries('reversal')).map((e) => e.credits).sort()).toEqual([-100, -100, -60]);
  });
});

describe.each(engines())('reversals in the library (%s)', (engine) => {
  describe.concurrent('handleWebhook', () => {
    const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
    const event = (type: string, object: unknown) =>
      JSON.stringify({ id: 'evt_1MtwBwLkdIwHu7ix', object: 'event', type, data: { object } });

    it('charge.refunded and charge.dispute.created take the credits back under the policy', async (test) => {
      const w = await world(engine, test, DEBIT);
      const lib = w.library();
      const pi = w.buy();
      const other = w.buy('2');
      expect(await lib.fulfill(pi)).toMatchObject({ status: 'credited' });
      expect(await lib.fulfill(other)).toMatchObject({ status: 'credited' });
      const re = w.sim.store.refund(pi, 300)!;
      // A charge event names no refund: the newest refund's item comes back.
      const refunded = event('charge.refunded', { id: 'ch_3MtwBwLkdIwHu7ix', object: 'charge', payment_intent: pi });
      expect(await lib.handleWebhook(refunded, sign(refunded), SECRET)).toEqual({
        id: re.id,
        paymentKey: pi,
        userId: '1',
        credits: -30,
        status: 'reversed',
        reason: null,
      });
      // Delivered again: nothing new.
      expect(await lib.handleWebhook(refunded, sign(refunded), SECRET)).toMatchObject({ status: 'already_reversed' });

      const dp = w.sim.store.openDispute(other);
      const created = event('charge.dispute.created', {
        id: dp.id,
        object: 'dispute',
        payment_intent: other,
      });
      expect(await lib.handleWebhook(created, sign(created), SECRET)).toMatchObject({
        id: dp.id,
        userId: '2',
        credits: -100,
        status: 'reversed',
      });
      expect((await w.entries('reversal')).map((e) => e.payment_key).sort()).toEqual([re.id, dp.id].sort());
    });

    it("a refund's event of the other mode, or to a ledger of the other mode, is refused as a payment's is: nothing written", async (test) => {
      const w = await world(engine, test, DEBIT);
      const lib = w.library();
      const pi = w.buy();
      expect(await lib.fulfill(pi)).toMatchObject({ status: 'credited' });
      const re = w.sim.store.refund(pi)!;
      const before = await w.app.fingerprint();
      const live = event('refund.updated', { id: re.id, object: 'refund', payment_intent: pi });
      const liveEvent = JSON.stringify({ ...JSON.parse(live), livemode: true });
      await expect(lib.handleWebhook(liveEvent, sign(liveEvent), SECRET)).rejects.toThrow(
        /^test and live payments never mix in one ledger$/,
      );
      expect(await w.app.fingerprint()).toBe(before);

      // A live key on this test-mode ledger: refused before Stripe is asked.
      const liveSim = await startSimulator({ apiKeys: ['sk_live_e2e_reversals'], livemode: true });
      const liveLib = createStripeCredits({
        db: w.app.url,
        stripeApiKey: 'sk_live_e2e_reversals',
        stripeApiBase: liveSim.url,
        config: { credits, reversals: DEBIT },
        cwd: w.tmp.dir,
      });
      try {
        await expect(liveLib.handleWebhook(liveEvent, sign(liveEvent), SECRET)).rejects.toThrow(
          /^test and live payments never mix in one ledger$/,
        );
        expect(liveSim.requests).toEqual([]);
      } finally {
        await liveLib.close();
        await liveSim.close();
      }
      expect(await w.app.fingerprint()).toBe(before);
      // The same event of this mode takes the credits back.
      const same = JSON.stringify({ ...JSON.parse(live), livemode: false });
      expect(await lib.handleWebhook(same, sign(same), SECRET)).toMatchObject({ id: re.id, status: 'reversed' });
    });

    it('a webhook racing a run writes one reversal', async (test) => {
      const w = await world(engine, test, DEBIT);
      const pi = w.buy();
      expect((await w.reconcile()).code).toBe(0);
      const re = w.sim.store.refund(pi, undefined, { created: -60 })!;
      const lib = w.library();
      const body = event('refund.updated', { id: re.id, object: 'refund', payment_intent: pi });
      const [hook, run] = await Promise.all([lib.handleWebhook(body, sign(body), SECRET), w.reconcile('process')]);
      expect(run.code, run.stderr).toBe(0);
      const statuses = [hook?.status, run.doc.reversals[0].status].sort();
      expect(statuses).toEqual(['already_reversed', 'reversed']);
      expect(await w.entries('reversal')).toHaveLength(1);
    });
  });
});

describe.each(engines())('lookup shows reversals (%s)', (engine) => {
  it("a payment's refund with its reversal entry and its dispute with its review entry; none: as before", async (test) => {
    const w = await world(engine, test, { refunds: 'debit', disputes: 'review' });
    const pi = w.buy();
    const plain = w.buy('2');
    expect((await w.reconcile()).code).toBe(0);
    const re = w.sim.store.refund(pi, 400, { created: -120 })!;
    const dp = w.sim.store.openDispute(pi, { created: -60 });
    const run = await w.reconcile();
    expect(run.code, run.stdout).toBe(3);

    const before = w.wholeLists();
    const look = await w.cli(['lookup', pi, '--json']);
    expect(look.code, look.stderr).toBe(0);
    // Two requests per payment lookup: the PaymentIntent's refunds, then its disputes.
    expect(w.wholeLists() - before).toBe(2);
    const doc = JSON.parse(look.stdout) as JsonDoc;
    expect(doc.reversals).toEqual([
      {
        id: re.id,
        source: 'refund',
        amount: 400,
        status: 'succeeded',
        created: expect.any(String),
        entries: [expect.objectContaining({ kind: 'reversal', userId: '1', credits: -40, paymentKey: re.id })],
        review: null,
      },
      {
        id: dp.id,
        source: 'dispute',
        amount: 600,
        status: dp.status,
        created: expect.any(String),
        entries: [],
        review: expect.objectContaining({ status: 'open', userId: '1', credits: -60 }),
      },
    ]);

    const text = await w.cli(['lookup', pi]);
    expect(text.code, text.stderr).toBe(0);
    const section = text.stdout.slice(text.stdout.indexOf('Refunds and disputes:'));
    expect(text.stdout.indexOf('Refunds and disputes:')).toBeGreaterThan(text.stdout.indexOf('The ledger holds:'));
    expect(section).toContain(`refund ${re.id}: 4.00 USD, succeeded`);
    expect(section).toMatch(/\n {4}reversal -40 credits, user 1, /);
    expect(section).toContain(`dispute ${dp.id}: 6.00 USD, needs response`);
    expect(section).toMatch(/\n {4}review open: -60 credits at stake, user 1, queued /);

    // A payment with no refund or dispute: no section, an empty array.
    const none = await w.cli(['lookup', plain]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).not.toMatch(/Refunds and disputes|re_|dp_/);
    expect(none.stdout.endsWith('  net 100 credits, now with user 2\n')).toBe(true);
    expect(JSON.parse((await w.cli(['lookup', plain, '--json'])).stdout).reversals).toEqual([]);
  });
});

describe.each(engines())('lookup USER shows reversals (%s)', (engine) => {
  it("the user's refunds and disputes with their entries beside the purchases; Stripe read only for payments that have some", async (test) => {
    const w = await world(engine, test, { refunds: 'debit', disputes: 'review' });
    const refunded = w.buy('1', 1000);
    const disputed = w.buy('1', 2000);
    const failed = w.buy('1', 1500);
    w.buy('1', 500);
    w.buy('2');
    expect((await w.reconcile()).code).toBe(0);
    const re = w.sim.store.refund(refunded, 400, { created: -300 })!;
    const dp = w.sim.store.openDispute(disputed, { created: -200 });
    const back = w.sim.store.refund(failed, undefined, { created: -250 })!;
    expect((await w.reconcile()).code).toBe(3);
    w.sim.store.failRefund(back.id, { at: -100 });
    expect((await w.reconcile()).code).toBe(0);

    const lists = w.wholeLists();
    const retrieves = w.sim.requests.filter((r) => r.path.startsWith('/v1/checkout/sessions/')).length;
    const look = await w.cli(['lookup', '1', '--json']);
    expect(look.code, look.stderr).toBe(0);
    // Two requests each for the three payments the ledger or the queue names, none for the plain one;
    // each payment re-read once (a reversal entry is not a payment of its own).
    expect(w.wholeLists() - lists).toBe(6);
    expect(w.sim.requests.filter((r) => r.path.startsWith('/v1/checkout/sessions/')).length - retrieves).toBe(4);
    const doc = JSON.parse(look.stdout) as JsonDoc;
    expect(doc.payments).toHaveLength(4);
    expect(doc.balance).toBe(100 + 200 + 150 + 50 - 40);
    const entry = (kind: string, credits: number, key: string) =>
      expect.objectContaining({ kind, userId: '1', credits, paymentKey: key });
    expect(doc.reversals).toEqual([
      {
        id: dp.id,
        source: 'dispute',
        paymentIntent: disputed,
        currency: 'usd',
        amount: 2000,
        status: dp.status,
        created: expect.any(String),
        entries: [],
        review: expect.objectContaining({ status: 'open', userId: '1', credits: -200 }),
      },
      expect.objectContaining({
        id: back.id,
        paymentIntent: failed,
        status: 'failed',
        entries: expect.arrayContaining([entry('reversal', -150, back.id), entry('reinstatement', 150, back.id)]),
        review: null,
      }),
      expect.objectContaining({
        id: re.id,
        source: 'refund',
        paymentIntent: refunded,
        amount: 400,
        status: 'succeeded',
        entries: [entry('reversal', -40, re.id)],
      }),
    ]);

    const text = await w.cli(['lookup', '1']);
    expect(text.code, text.stderr).toBe(0);
    const at = text.stdout.indexOf('Refunds and disputes (3, newest first):');
    expect(at).toBeGreaterThan(text.stdout.indexOf('Payments (4)'));
    expect(at).toBeLessThan(text.stdout.indexOf('Ledger entries of user 1'));
    const section = text.stdout.slice(at);
    expect(section).toContain(`refund ${re.id} of `);
    expect(section).toContain(': 4.00 USD, succeeded, created ');
    expect(section).toMatch(/\n {4}reversal -40 credits, user 1, /);
    expect(section).toContain(`refund ${back.id} of `);
    expect(section).toMatch(/\n {4}reinstatement \+150 credits, user 1, /);
    expect(section).toContain(`dispute ${dp.id} of `);
    expect(section).toMatch(/\n {4}review open: -200 credits at stake, user 1, queued /);

    // By email too; a user with none: no section, an empty array, no list read.
    expect(JSON.parse((await w.cli(['lookup', 'ann@example.com', '--json'])).stdout).reversals).toHaveLength(3);
    const before = w.wholeLists();
    const ben = await w.cli(['lookup', '2']);
    expect(ben.code, ben.stderr).toBe(0);
    expect(ben.stdout).not.toMatch(/Refunds and disputes|re_|dp_/);
    expect(JSON.parse((await w.cli(['lookup', '2', '--json'])).stdout).reversals).toEqual([]);
    expect(w.wholeLists()).toBe(before);
  });

  it('reads the refunds and disputes of at most 25 payments; the others as the ledger holds them', async (test) => {
    const w = await world(engine, test, DEBIT);
    const pis = Array.from({ length: 26 }, () => w.buy('1', 1000));
    expect((await w.reconcile()).code).toBe(0);
    for (const pi of pis) w.sim.store.refund(pi, 100, { created: -60 });
    expect((await w.reconcile()).code).toBe(0);
    const lists = w.wholeLists();
    const look = await w.cli(['lookup', '1', '--json']);
    expect(look.code, look.stderr).toBe(0);
    expect(w.wholeLists() - lists).toBe(50);
    const doc = JSON.parse(look.stdout) as JsonDoc;
    expect(doc.reversals).toHaveLength(26);
    const unread = doc.reversals.filter((v: JsonDoc) => v.status === null);
    expect(unread).toEqual([
      expect.objectContaining({ amount: null, entries: [expect.objectContaining({ kind: 'reversal', credits: -10 })] }),
    ]);
    expect(doc.notes).toContain(
      'refunds and disputes of 1 older payments were not read from Stripe (shown as the ledger holds them)',
    );
    const text = await w.cli(['lookup', '1']);
    expect(text.stdout).toContain(`refund ${unread[0].id} of `);
    expect(text.stdout).toMatch(new RegExp(`refund ${unread[0].id} of \\S+: not read from Stripe\n`));
  });
});
