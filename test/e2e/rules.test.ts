import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, HOUR, DAY, type TestUser } from '../helpers/cli.js';
import { createAppDb, createEmptyAppDb, engines, type AppDb } from '../helpers/engines.js';

const KEY = 'sk_test_e2e_rules';

interface Item {
  paymentKey: string;
  status: string;
  reason: string | null;
  userId: string | null;
  credits: number | null;
  matchedBy: string | null;
}

const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', stripe_customer_id: 'cus_ann' },
  { id: 2, email: 'ben@example.com', stripe_customer_id: 'cus_shared' },
  { id: 3, email: 'cat@example.com', stripe_customer_id: 'cus_shared' },
  { id: 4, email: 'dan@example.com', stripe_customer_id: null },
];

describe.each(engines())('reconcile rules that need Stripe state to change between runs (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;
  let db: string;
  let since: number;
  const others: AppDb[] = [];

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir();
    app = await createAppDb(engine, tmp.dir, USERS, { customerColumn: true });
    db = app.url;
    since = now() - 3 * DAY;
  });
  afterEach(async () => {
    await sim.close();
    await app.close();
    for (const o of others.splice(0)) await o.close();
    tmp.cleanup();
  });

  async function reconcile(
    extra: string[] = [],
    config: Record<string, unknown> = { credits: { unitAmountPerCredit: { usd: 100 } } },
    env: Record<string, string> = {},
  ) {
    const configPath = writeJson(join(tmp.dir, 'config.json'), config);
    const r = await runCli(
      ['reconcile', '--db', db, '--config', configPath, '--since', String(since), '--json', ...extra],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, ...env },
      },
    );
    let report: { counts: Record<string, number>; items: Item[]; creditsWritten: number } | undefined;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}): ${r.stderr}`);
    }
    const item = (key: string) => report!.items.find((i) => i.paymentKey === key);
    return { ...r, report: report!, item };
  }

  const ledger = () =>
    app.query<{ payment_key: string; user_id: string; credits: number }>(
      "SELECT payment_key, user_id, credits FROM credit_ledger WHERE kind = 'purchase' ORDER BY id",
    );

  it('a delayed payment is pending until it settles, then a later run credits it once', async () => {
    const t = now() - 2 * DAY;
    const ach = sim.store.createCheckoutPayment({
      created: t,
      clientReferenceId: '1',
      amount: 5000,
      paymentStatus: 'unpaid',
    });
    const pi = ach.paymentIntent!.id;
    const first = await reconcile();
    expect(first.code, first.stderr).toBe(0);
    expect(first.item(pi)).toMatchObject({ status: 'pending', reason: null, credits: null });
    expect(await ledger()).toEqual([]);

    sim.store.settle(pi);
    const second = await reconcile();
    expect(second.code, second.stderr).toBe(0);
    expect(second.item(pi)).toMatchObject({ status: 'credited', userId: '1', credits: 50 });
    expect(await ledger()).toEqual([{ payment_key: pi, user_id: '1', credits: 50 }]);
  });

  it('an unpaid session whose payment failed is not a payment at all', async () => {
    const failed = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '1',
      amount: 5000,
      paymentStatus: 'unpaid',
      piStatus: 'requires_payment_method',
    });
    const canceled = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '1',
      amount: 5000,
      paymentStatus: 'unpaid',
      piStatus: 'canceled',
    });
    const r = await reconcile();
    expect(r.report.counts.payments).toBe(0);
    expect(r.item(failed.paymentIntent!.id)).toBeUndefined();
    expect(r.item(canceled.paymentIntent!.id)).toBeUndefined();
  });

  it('a payment refunded after it was credited stays credited once (already_credited wins)', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    const pi = p.paymentIntent!.id;
    expect((await reconcile()).item(pi)).toMatchObject({ status: 'credited', credits: 10 });
    sim.store.refund(pi);
    const again = await reconcile();
    expect(again.item(pi)).toBeUndefined(); // already credited: counted, not listed
    expect(again.report.counts.alreadyCredited).toBe(1);
    expect(await ledger()).toHaveLength(1);
  });

  it('standalone PaymentIntents count as match.standalonePaymentIntents says', async () => {
    const withMeta = sim.store.createPaymentIntent({ created: now() - DAY, amount: 2000, metadata: { user_id: '4' } })
      .paymentIntent.id;
    const withCredits = sim.store.createPaymentIntent({
      created: now() - DAY,
      amount: 2000,
      metadata: { credits: '7' },
      receiptEmail: 'dan@example.com',
    }).paymentIntent.id;
    const bare = sim.store.createPaymentIntent({ created: now() - DAY, amount: 2000, customer: 'cus_ann' })
      .paymentIntent.id;
    const processing = sim.store.createPaymentIntent({
      created: now() - DAY,
      amount: 2000,
      status: 'processing',
      metadata: { user_id: '4' },
    }).paymentIntent.id;
    const base = { credits: { unitAmountPerCredit: { usd: 100 } }, users: { stripeCustomerId: 'stripe_customer_id' } };

    const def = await reconcile(['--dry-run'], base);
    expect(def.report.items.map((i) => i.paymentKey).sort()).toEqual([withMeta, withCredits].sort());
    expect(def.item(withMeta)).toMatchObject({
      status: 'would_credit',
      userId: '4',
      credits: 20,
      matchedBy: 'metadata.user_id',
    });
    expect(def.item(withCredits)).toMatchObject({
      status: 'would_credit',
      userId: '4',
      credits: 7,
      matchedBy: 'email',
    });

    const all = await reconcile(['--dry-run'], { ...base, match: { standalonePaymentIntents: 'all' } });
    expect(all.report.items.map((i) => i.paymentKey).sort()).toEqual([withMeta, withCredits, bare].sort());
    expect(all.item(bare)).toMatchObject({ status: 'would_credit', userId: '1', matchedBy: 'customer' });
    expect(all.item(processing)).toBeUndefined();

    const none = await reconcile(['--dry-run'], { ...base, match: { standalonePaymentIntents: 'none' } });
    expect(none.report.items).toEqual([]);
  });

  it('under "all", invoice PaymentIntents are known from the InvoicePayments listed side by side, not asked about one by one', async () => {
    const invoice = (created: number) =>
      sim.store.createPaymentIntent({ created, amount: 3000, metadata: { user_id: '4' }, invoice: true }).paymentIntent
        .id;
    // Made more than a day before the run: no session can be paying them that the list missed.
    const old = Array.from({ length: 30 }, (_, i) => invoice(now() - 2 * DAY + i));
    // Made within the day: a session may have completed while the list ran, so each is asked.
    const recent = Array.from({ length: 3 }, (_, i) => invoice(now() - HOUR + i));
    const bare = sim.store.createPaymentIntent({ created: now() - 2 * DAY + 100, amount: 2000, customer: 'cus_ann' })
      .paymentIntent.id;
    const stats = async () =>
      ((await (await fetch(`${sim.url}/_simulator/stats?reset=1`)).json()) as { byEndpoint: Record<string, number> })
        .byEndpoint;
    await stats();
    const r = await reconcile(['--dry-run'], {
      credits: { unitAmountPerCredit: { usd: 100 } },
      users: { stripeCustomerId: 'stripe_customer_id' },
      match: { standalonePaymentIntents: 'all' },
    });
    expect(r.code, r.stderr).toBe(3);
    for (const id of [...old, ...recent]) expect(r.item(id)).toMatchObject({ status: 'skipped', reason: 'invoice' });
    expect(r.item(bare)).toMatchObject({ status: 'would_credit', userId: '1', matchedBy: 'customer' });
    const byEndpoint = await stats();
    // InvoicePayments: one page of the list, and the bare PaymentIntent it did not name (34 before:
    // one per candidate). Sessions: the list's one page, the 3 recent invoices and the bare one (35
    // before).
    expect(byEndpoint['GET /v1/invoice_payments']).toBe(2);
    expect(byEndpoint['GET /v1/checkout/sessions']).toBe(1 + 3 + 1);
    // Under the default policy the list is not made: its candidates (the 33 with a user id in their
    // metadata) are asked about one by one.
    await reconcile(['--dry-run']);
    expect((await stats())['GET /v1/invoice_payments']).toBe(33);
  });

  it('a PaymentIntent whose session was not listed is still judged as that session', async () => {
    // The session was created before the 24h lookback (Stripe would have expired it; be safe anyway).
    const p = sim.store.createCheckoutPayment({
      created: since - 30 * HOUR,
      paidAt: since + HOUR,
      clientReferenceId: '1',
      metadata: { credits: '70' },
      piMetadata: { user_id: '1' },
      amount: 1000,
    });
    const r = await reconcile(['--dry-run']);
    expect(r.item(p.paymentIntent!.id)).toMatchObject({
      status: 'would_credit',
      credits: 70,
      userId: '1',
      matchedBy: 'client_reference_id',
    });
  });

  it('matches by Stripe customer when the users table has that column, and flags a shared customer id', async () => {
    const one = sim.store.createCheckoutPayment({
      created: now() - DAY,
      customer: 'cus_ann',
      amount: 1000,
      email: 'someone@else.org',
    }).paymentIntent!.id;
    const shared = sim.store.createCheckoutPayment({ created: now() - DAY, customer: 'cus_shared', amount: 1000 })
      .paymentIntent!.id;
    const cfg = { credits: { unitAmountPerCredit: { usd: 100 } }, users: { stripeCustomerId: 'stripe_customer_id' } };
    const r = await reconcile(['--dry-run'], cfg);
    expect(r.item(one)).toMatchObject({ status: 'would_credit', userId: '1', matchedBy: 'customer' });
    expect(r.item(shared)).toMatchObject({ status: 'needs_review', reason: 'ambiguous_customer' });
    // Without the column configured, the customer is not used.
    const off = await reconcile(['--dry-run']);
    expect(off.item(one)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
  });

  it('byEmail false turns the email step off', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - DAY, amount: 1000, email: 'ann@example.com' })
      .paymentIntent!.id;
    const r = await reconcile(['--dry-run'], {
      credits: { unitAmountPerCredit: { usd: 100 } },
      match: { byEmail: false },
    });
    expect(r.item(p)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
  });

  it('over maxCreditsPerPayment goes to review, and --yes does not lift it', async () => {
    const big = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '1',
      metadata: { credits: '5000' },
      amount: 1000,
    }).paymentIntent!.id;
    const r = await reconcile(['--yes'], { maxCreditsPerPayment: 1000 });
    expect(r.code).toBe(3);
    expect(r.item(big)).toMatchObject({ status: 'needs_review', reason: 'invalid_credits' });
    expect(await ledger()).toEqual([]);
  });

  it('credits.minAmountPerCredit: a 1-cent PaymentIntent and a 100% coupon go to review (amount_too_low), --yes does not lift it, assign still can', async () => {
    const cent = sim.store.createPaymentIntent({
      created: now() - DAY,
      amount: 1,
      metadata: { user_id: '1', credits: '5000' },
    }).paymentIntent.id;
    const coupon = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '2',
      amount: 0,
      paymentStatus: 'no_payment_required',
      metadata: { credits: '1000' },
    });
    expect(coupon.paymentIntent).toBeNull(); // a free session has no PaymentIntent: keyed by its session id
    const free = coupon.session.id;
    const normal = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '4',
      amount: 1000,
      metadata: { credits: '100' },
    }).paymentIntent!.id;
    const cfg = { credits: { unitAmountPerCredit: { usd: 100 }, minAmountPerCredit: { usd: 5 } } };

    const r = await reconcile(['--yes'], cfg);
    expect(r.code, r.stderr).toBe(3);
    expect(r.item(cent)).toMatchObject({
      status: 'needs_review',
      reason: 'amount_too_low',
      userId: '1',
      credits: null,
    });
    expect(r.item(free)).toMatchObject({
      status: 'needs_review',
      reason: 'amount_too_low',
      userId: '2',
      credits: null,
    });
    expect(r.item(normal)).toMatchObject({ status: 'credited', userId: '4', credits: 100 });
    expect(await ledger()).toEqual([{ payment_key: normal, user_id: '4', credits: 100 }]);

    // A rerun leaves them in review (not new there: exit 0), still uncredited.
    const again = await reconcile([], cfg);
    expect(again.code, again.stderr).toBe(0);
    expect(again.item(cent)).toMatchObject({ status: 'needs_review', reason: 'amount_too_low' });
    expect(await ledger()).toHaveLength(1);

    const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
    const cfgPath = join(tmp.dir, 'config.json');
    const review = await runCli(['review', '--db', db, '--config', cfgPath, '--json'], { cwd: tmp.dir, env });
    expect(review.code, review.stderr).toBe(0);
    const entries = (JSON.parse(review.stdout) as { entries: { paymentKey: string; reason: string }[] }).entries;
    expect(entries.map((e) => [e.paymentKey, e.reason]).sort()).toEqual(
      [
        [cent, 'amount_too_low'],
        [free, 'amount_too_low'],
      ].sort(),
    );
    const text = await runCli(['review', '--db', db, '--config', cfgPath], { cwd: tmp.dir, env });
    expect(text.stdout).toMatch(/paid less than its credits cost \(minAmountPerCredit\)/);
    const look = await runCli(['lookup', free, '--db', db, '--config', cfgPath, '--json'], { cwd: tmp.dir, env });
    expect(look.code, look.stderr).toBe(0);
    expect(JSON.parse(look.stdout)).toMatchObject({
      chain: { status: 'needs_review', reason: 'amount_too_low', userId: '2' },
      review: { status: 'open', reason: 'amount_too_low' },
    });

    // A person decides: with --credits, or by the rules (the floor is reconcile's, not assign's).
    const byHand = await runCli(
      [
        'assign',
        cent,
        '--user',
        '1',
        '--credits',
        '1',
        '--reason',
        'paid 1 cent: 1 credit',
        '--db',
        db,
        '--config',
        cfgPath,
      ],
      { cwd: tmp.dir, env },
    );
    expect(byHand.code, byHand.stderr).toBe(0);
    const byRule = await runCli(
      ['assign', free, '--user', '2', '--reason', 'promo coupon, approved', '--db', db, '--config', cfgPath],
      { cwd: tmp.dir, env },
    );
    expect(byRule.code, byRule.stderr).toBe(0);
    expect(byRule.stdout).toMatch(/Credited 1000 credits \(by the credits metadata\)/);
    expect(await ledger()).toEqual([
      { payment_key: normal, user_id: '4', credits: 100 },
      { payment_key: cent, user_id: '1', credits: 1 },
      { payment_key: free, user_id: '2', credits: 1000 },
    ]);
  });

  it('without credits.minAmountPerCredit, a 1-cent PaymentIntent and a 100% coupon are credited by their metadata (off by default)', async () => {
    const cent = sim.store.createPaymentIntent({
      created: now() - DAY,
      amount: 1,
      metadata: { user_id: '1', credits: '5000' },
    }).paymentIntent.id;
    const free = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '2',
      amount: 0,
      paymentStatus: 'no_payment_required',
      metadata: { credits: '1000' },
    }).session.id;
    const r = await reconcile([], { credits: { unitAmountPerCredit: { usd: 100 }, minAmountPerCredit: { eur: 5 } } });
    expect(r.code, r.stderr).toBe(0); // a floor for eur only does not check usd
    expect(r.item(cent)).toMatchObject({ status: 'credited', credits: 5000 });
    expect(r.item(free)).toMatchObject({ status: 'credited', credits: 1000 });
    expect(await ledger()).toHaveLength(2);
  });

  it('over maxCreditsPerRun writes nothing and exits 3, unless --yes', async () => {
    for (let i = 0; i < 3; i++)
      sim.store.createCheckoutPayment({
        created: now() - DAY + i,
        clientReferenceId: '1',
        metadata: { credits: '400' },
        amount: 1000,
      });
    sim.store.createCheckoutPayment({ created: now() - DAY, amount: 1000, email: 'nobody@example.org' });
    const cfg = { maxCreditsPerRun: 1000 };
    const stopped = await runCli(
      ['reconcile', '--db', db, '--config', writeJson(join(tmp.dir, 'cap.json'), cfg), '--since', String(since)],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      },
    );
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/1200 credits, more than maxCreditsPerRun \(1000\)/);
    expect(await ledger()).toEqual([]);
    expect(await app.query('SELECT count(*) AS n FROM stripe_credits_review')).toEqual([{ n: 0 }]);
    // A dry run shows the plan it would stop on, and says so.
    const dry = await reconcile(['--dry-run'], cfg);
    expect(dry.code).toBe(3);
    expect(dry.report.counts.wouldCredit).toBe(3);
    expect((dry.report as unknown as { notes: string[] }).notes.join(' ')).toMatch(
      /more than maxCreditsPerRun \(1000\): a real run would stop unless --yes/,
    );
    const yes = await reconcile(['--yes'], cfg);
    expect(yes.report.creditsWritten).toBe(1200);
    expect(await ledger()).toHaveLength(3);
  });

  it('a payment the ledger holds under its Checkout Session id counts as credited', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    await runCli(['migrate', '--db', db], { cwd: tmp.dir });
    await app.exec(
      "INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, livemode, actor, created_at) VALUES ('1', 10, 'purchase', ?, ?, 0, 'webhook', '2026-01-01T00:00:00Z')",
      p.session.id,
      p.session.id,
    );
    const r = await reconcile();
    expect(r.code, r.stderr).toBe(0);
    expect(r.report.counts).toMatchObject({ payments: 1, alreadyCredited: 1, credited: 0 });
    expect(await ledger()).toHaveLength(1);
  });

  it('an arbitrary text id never errors against an integer id column', async () => {
    const p = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: "1' OR '1'='1",
      metadata: { user_id: '042' },
      amount: 1000,
    }).paymentIntent!.id;
    const r = await reconcile(['--dry-run']);
    expect(r.code, r.stderr).toBe(3); // a dry run that would put a new payment in review
    expect(r.item(p)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
  });

  it('ids against a uuid id column: the exact uuid finds its user; any other text finds nobody and never errors', async () => {
    const other = await createEmptyAppDb(engine, tmp.dir, 'uuid.db');
    others.push(other);
    const u1 = '6f1c1a52-8c1e-4c1b-9d0e-2b1f3c4d5e6f';
    await other.exec(
      `CREATE TABLE members (id UUID PRIMARY KEY, email TEXT); INSERT INTO members (id, email) VALUES ('${u1}', 'ann@example.com')`,
    );
    const hit = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: u1, amount: 1000 })
      .paymentIntent!.id;
    const miss = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: 'not-a-uuid',
      metadata: { user_id: '42' },
      amount: 1000,
    }).paymentIntent!.id;
    const upper = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: u1.toUpperCase(),
      amount: 1000,
    }).paymentIntent!.id;
    db = other.url;
    const r = await reconcile(['--dry-run'], {
      users: { table: 'members', name: null },
      credits: { unitAmountPerCredit: { usd: 100 } },
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.item(hit)).toMatchObject({ status: 'would_credit', userId: u1, matchedBy: 'client_reference_id' });
    expect(r.item(miss)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
    // Ids are compared as exact text, on both engines: the upper-case spelling is not the stored id.
    expect(r.item(upper)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
  });

  it('works with a users table of another shape (text ids, other column names, no name column)', async () => {
    const other = await createEmptyAppDb(engine, tmp.dir, 'other.db');
    others.push(other);
    await other.exec(
      "CREATE TABLE accounts (uid TEXT PRIMARY KEY, mail TEXT); INSERT INTO accounts VALUES ('u_1', 'ann@example.com'), ('u_2', 'ben@example.com')",
    );
    const a = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: 'u_2', amount: 1000 })
      .paymentIntent!.id;
    const b = sim.store.createCheckoutPayment({ created: now() - DAY, amount: 1000, email: 'ANN@example.com' })
      .paymentIntent!.id;
    db = other.url;
    const r = await reconcile([], {
      users: { table: 'accounts', id: 'uid', email: 'mail', name: null },
      credits: { unitAmountPerCredit: { usd: 100 } },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.item(a)).toMatchObject({ status: 'credited', userId: 'u_2', matchedBy: 'client_reference_id' });
    expect(r.item(b)).toMatchObject({ status: 'credited', userId: 'u_1', matchedBy: 'email' });
    expect(await other.query('SELECT count(*) AS n FROM accounts')).toEqual([{ n: 2 }]); // never creates users
  });

  it('four apply runs at once, on a database never migrated: one writer, the others exit 75, one entry per payment', async () => {
    for (let i = 0; i < 120; i++)
      sim.store.createCheckoutPayment({
        created: now() - DAY + i,
        clientReferenceId: String((i % 4) + 1),
        amount: 1000,
      });
    const cfgPath = writeJson(join(tmp.dir, 'c.json'), { credits: { unitAmountPerCredit: { usd: 100 } } });
    const args = ['reconcile', '--db', db, '--config', cfgPath, '--since', String(since), '--json'];
    const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
    const results = await Promise.all([1, 2, 3, 4].map(() => runCli(args, { cwd: tmp.dir, env, process: true })));
    // One writer at a time: the others exit 75 at once (or run after it, finding nothing to do).
    const codes = results.map((r) => r.code);
    expect(
      codes.every((c) => c === 0 || c === 75),
      results.map((r) => r.stderr).join(''),
    ).toBe(true);
    expect(codes).toContain(0);
    for (const r of results.filter((x) => x.code === 75))
      expect(r.stderr).toMatch(/^stripe-credits: another run holds the lock: .* since \d{4}-/);
    const reports = results.filter((r) => r.code === 0).map((r) => JSON.parse(r.stdout));
    expect(reports.reduce((s, r) => s + r.counts.credited, 0)).toBe(120);
    expect(reports.reduce((s, r) => s + r.creditsWritten, 0)).toBe(1200);
    expect(await ledger()).toHaveLength(120);
  });

  it('refuses to mix live-mode payments into a test-mode ledger', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    expect((await reconcile()).code).toBe(0);
    const live = await startSimulator({ apiKeys: ['sk_live_e2e_rules'], livemode: true });
    try {
      live.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000, livemode: true });
      const before = await app.fingerprint();
      const r = await runCli(['reconcile', '--db', db, '--since', String(since)], {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: 'sk_live_e2e_rules', STRIPE_API_BASE: live.url },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/test and live payments never mix/);
      expect(await app.fingerprint()).toBe(before);
    } finally {
      await live.close();
    }
  });
});
