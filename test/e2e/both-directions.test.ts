import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { Dispute, DisputePlan, Refund, RefundPlan } from '../../src/simulator/reversals.js';
import type { SimulatorStore } from '../../src/simulator/store.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type EngineName } from '../helpers/engines.js';

/** A --json document as the tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed output
type JsonDoc = any;

/**
 * Issue 17's "Done when": one Stripe account with refunds (full, partial, several partial, failed),
 * disputes (lost, won, open) and an inquiry, and a ledger where the app planted entries Stripe does
 * not back. After reconcile every user's balance is what they paid for less what Stripe took back
 * (worked out here from Stripe's own objects, not from the tool), a second run changes nothing, and
 * `audit` names exactly the planted entries. On the tool's ledger and on a mapped app ledger, on
 * both engines; the CLI and the real SDK against the simulator.
 */

const KEY = 'sk_test_e2e_both_directions';
const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
  { id: 3, email: 'cy@example.com', name: 'Cy' },
  { id: 4, email: 'dee@example.com', name: 'Dee' },
  { id: 5, email: 'eve@example.com', name: 'Eve' },
  { id: 6, email: 'pat@example.com', name: 'Pat' },
];
/** 1 credit per 10 cents. */
const UNIT = 10;
const DEBIT = { refunds: 'debit', disputes: 'debit' };
const NO_SUCH_PI = 'pi_3MtwBwLkdIwHu7ix1NoSuchQ';
const LIVE_SESSION = 'cs_live_a1Zq8Rk2Vb7Xn4Tc9Ws3Pd6Lm1Hj5Gf0Ey8Uo2Ia7Sx4Qw9Ev3Rt6Yb1Nc5M';

/** A payment of the scenario: its fixture (refunds, dispute before the first run), and what Stripe does after it. */
interface Buy {
  name: string;
  user: string;
  amount: number;
  refunds?: RefundPlan[];
  dispute?: DisputePlan;
  /** Between the first and the second run: Stripe refunds, a refund fails, a dispute closes. */
  after?: (s: SimulatorStore, pi: string) => void;
}

/** Every payment starts at the same second (Stripe's lists break the tie by id); times relative to now. */
const H = 3600;
const BUYS: Buy[] = [
  // Refunded in full before the first run: never credited, nothing to take back.
  { name: 'full-refund-first', user: '1', amount: 1000, refunds: [{ amount: 1000, created: -20 * H }] },
  // Refunded in full after it was credited: all of it back.
  { name: 'full-refund-later', user: '1', amount: 1500, after: (s, pi) => s.refund(pi, undefined, { created: -120 }) },
  { name: 'partial', user: '1', amount: 2000, refunds: [{ amount: 500, created: -18 * H }] },
  // 99 credits for $9.99, three partial refunds, one after the first run.
  {
    name: 'several-partial',
    user: '2',
    amount: 999,
    refunds: [
      { amount: 333, created: -18 * H },
      { amount: 333, created: -17 * H },
    ],
    after: (s, pi) => s.refund(pi, 100, { created: -110 }),
  },
  // A card refund that failed before the first run: never taken.
  {
    name: 'failed-first',
    user: '2',
    amount: 1500,
    refunds: [{ amount: 1500, created: -18 * H, status: 'failed', updated: -16 * H }],
  },
  // A refund taken by the first run that fails after it: given back.
  {
    name: 'failed-later',
    user: '2',
    amount: 1000,
    refunds: [{ amount: 400, created: -18 * H }],
    after: (s) => s.failRefund(refundsOf(s, 'failed-later')[0]!.id, { at: -100 }),
  },
  { name: 'dispute-lost', user: '3', amount: 3000, dispute: { created: -18 * H, status: 'lost', updated: -10 * H } },
  // Won before the first run: the money came back before anything was taken.
  { name: 'dispute-won', user: '3', amount: 1200, dispute: { created: -18 * H, status: 'won', updated: -10 * H } },
  // A chargeback waiting for evidence: Stripe withdrew the money when it opened.
  { name: 'dispute-open', user: '3', amount: 800, dispute: { created: -18 * H, status: 'needs_response' } },
  // Taken at open by the first run, won after it: given back.
  {
    name: 'dispute-won-later',
    user: '4',
    amount: 2000,
    dispute: { created: -18 * H, status: 'under_review', updated: -12 * H },
    after: (s) => s.closeDispute(disputesOf(s, 'dispute-won-later')[0]!.id, 'won', -90),
  },
  // A partial refund, then a chargeback of the rest.
  {
    name: 'refund-then-dispute',
    user: '4',
    amount: 2500,
    refunds: [{ amount: 1000, created: -18 * H }],
    dispute: { created: -17 * H, status: 'lost', updated: -10 * H },
  },
  // An inquiry moves no money.
  {
    name: 'inquiry',
    user: '4',
    amount: 600,
    dispute: { created: -18 * H, status: 'warning_needs_response' },
  },
  // The app's entries below stand for these: Eve's payment it gave to Pat, Pat's own two.
  { name: 'eve-paid', user: '5', amount: 2000 },
  { name: 'pat-other-credits', user: '6', amount: 700 },
  { name: 'pat-twice', user: '6', amount: 400 },
];

const piOf = new Map<SimulatorStore, Map<string, string>>();
const refundsOf = (s: SimulatorStore, name: string): Refund[] =>
  s
    .sorted('refund')
    .map((e) => e.obj as unknown as Refund)
    .filter((r) => r.payment_intent === piOf.get(s)!.get(name));
const disputesOf = (s: SimulatorStore, name: string): Dispute[] =>
  s
    .sorted('dispute')
    .map((e) => e.obj as unknown as Dispute)
    .filter((d) => d.payment_intent === piOf.get(s)!.get(name));

/**
 * What each user should hold, from Stripe's objects as they end up: the credits each payment bought,
 * less `floor(credits × taken / paid)` where `taken` is what succeeded refunds and chargebacks (not
 * won, not an inquiry) took, capped at what was paid.
 */
function expectedBalances(s: SimulatorStore): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(USERS.map((u) => [String(u.id), 0]));
  for (const b of BUYS) {
    const credits = Math.floor(b.amount / UNIT);
    const refunded = refundsOf(s, b.name)
      .filter((r) => r.status === 'succeeded')
      .reduce((a, r) => a + r.amount, 0);
    const chargedBack = disputesOf(s, b.name)
      .filter((d) => ['needs_response', 'under_review', 'lost'].includes(d.status))
      .reduce((a, d) => a + d.amount, 0);
    const taken = Math.min(b.amount, refunded + chargedBack);
    out[b.user]! += credits - Math.floor((credits * taken) / b.amount);
  }
  return out;
}

/** Which ledger the app keeps: the tool's own `credit_ledger`, or its own table mapped in the config. */
type LedgerKind = 'tool' | 'mapped';

const MAPPING = {
  table: 'credit_transactions',
  columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_at' },
  set: { type: 'purchase' },
  setManual: { type: 'adjustment' },
};

async function world(engine: EngineName, ledger: LedgerKind, test: TestContext) {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-both-');
  const app = await createAppDb(engine, tmp.dir, USERS);
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const config = { credits: { unitAmountPerCredit: { usd: UNIT } }, reversals: DEBIT };
  const cfg = writeJson(join(tmp.dir, 'config.json'), ledger === 'mapped' ? { ...config, ledger: MAPPING } : config);
  const cli = (args: string[]): Promise<CliResult> =>
    runCli([...args, '--db', app.url, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
    });
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    let doc: JsonDoc;
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    return { ...r, doc };
  };
  return { sim, app, cli, json, ledger };
}

type World = Awaited<ReturnType<typeof world>>;

/** The scenario's payments, all created at one second a day ago. */
function buyAll(w: World): Map<string, { pi: string; session: string }> {
  const at = now() - DAY;
  const ids = new Map<string, { pi: string; session: string }>();
  const pis = new Map<string, string>();
  piOf.set(w.sim.store, pis);
  for (const b of BUYS) {
    const p = w.sim.store.createCheckoutPayment({
      created: at,
      clientReferenceId: b.user,
      amount: b.amount,
      refunds: b.refunds,
      dispute: b.dispute,
    });
    ids.set(b.name, { pi: p.paymentIntent!.id, session: p.session.id });
    pis.set(b.name, p.paymentIntent!.id);
  }
  return ids;
}

/** An entry the app wrote itself, in whichever ledger it keeps; returns its entry id as audit names it. */
async function plant(w: World, e: { user: string; credits: number; ref: string; at: number }): Promise<string> {
  const at = new Date(e.at * 1000).toISOString();
  if (w.ledger === 'mapped') {
    await w.app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type, created_at) VALUES (?, ?, ?, 'purchase', ?)",
      Number(e.user),
      e.credits,
      e.ref,
      at,
    );
    const rows = await w.app.query<{ id: number }>('SELECT max(id) AS id FROM credit_transactions');
    return String(rows[0]!.id);
  }
  await w.app.exec(
    `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, amount, currency, livemode, actor, reason, run_id, created_at)
     VALUES (?, ?, 'purchase', ?, ?, ?, NULL, NULL, 0, 'app', NULL, NULL, ?)`,
    e.user,
    e.credits,
    e.ref,
    e.ref.startsWith('cs_') ? e.ref : null,
    e.ref.startsWith('pi_') ? e.ref : null,
    at,
  );
  const rows = await w.app.query<{ id: number }>('SELECT id FROM credit_ledger WHERE payment_key = ?', e.ref);
  return String(rows[0]!.id);
}

/** The app's own entries, written before the tool's first run; the entry ids by the finding each should be. */
async function plantAll(w: World, ids: Map<string, { pi: string; session: string }>): Promise<Record<string, string>> {
  if (w.ledger === 'mapped') {
    await w.app.exec(
      w.app.engine === 'postgres'
        ? `CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL,
             stripe_id TEXT, type TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`
        : `CREATE TABLE credit_transactions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL,
             amount INTEGER NOT NULL, stripe_id TEXT, type TEXT NOT NULL, created_at TEXT NOT NULL)`,
    );
  } else {
    const m = await w.cli(['migrate']);
    expect(m.code, m.stderr).toBe(0);
  }
  const t = now() - DAY + 120;
  const twice = ids.get('pat-twice')!;
  // The same payment under its session id, then (a second webhook) under its PaymentIntent id.
  await plant(w, { user: '6', credits: 40, ref: twice.session, at: t });
  return {
    not_found: await plant(w, { user: '6', credits: 50, ref: NO_SUCH_PI, at: t + 1 }),
    // Eve paid; the app, matching by name, credited Pat.
    wrong_user: await plant(w, { user: '6', credits: 200, ref: ids.get('eve-paid')!.pi, at: t + 2 }),
    // Cents taken for credits: 700 where the rules give 70.
    amount_differs: await plant(w, { user: '6', credits: 700, ref: ids.get('pat-other-credits')!.pi, at: t + 3 }),
    duplicate: await plant(w, { user: '6', credits: 40, ref: twice.pi, at: t + 4 }),
    other_mode: await plant(w, { user: '6', credits: 30, ref: LIVE_SESSION, at: t + 5 }),
  };
}

/** Each user's balance as the ledger the app reads holds it. */
async function balances(w: World): Promise<Record<string, number>> {
  const rows =
    w.ledger === 'mapped'
      ? await w.app.query<{ u: unknown; c: unknown }>(
          'SELECT user_id AS u, SUM(amount) AS c FROM credit_transactions GROUP BY user_id',
        )
      : await w.app.query<{ u: unknown; c: unknown }>(
          'SELECT user_id AS u, SUM(credits) AS c FROM credit_ledger GROUP BY user_id',
        );
  const out: Record<string, number> = Object.fromEntries(USERS.map((u) => [String(u.id), 0]));
  for (const r of rows) out[String(r.u)] = Number(r.c);
  return out;
}

/** Every row the tool or the app keeps for credits, to compare two runs. */
async function ledgerRows(w: World): Promise<unknown[]> {
  const tool = await w.app.query('SELECT id, user_id, credits, kind, payment_key FROM credit_ledger ORDER BY id');
  const review = await w.app.query(
    'SELECT payment_key, status, credits FROM stripe_credits_review ORDER BY payment_key',
  );
  const mapped =
    w.ledger === 'mapped'
      ? await w.app.query('SELECT id, user_id, amount, stripe_id, type FROM credit_transactions ORDER BY id')
      : [];
  return [tool.map(plain), review.map(plain), mapped.map(plain)];
}
const plain = (r: object) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));

async function reconcile(w: World, args: string[]): Promise<JsonDoc> {
  const r = await w.json(['reconcile', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.doc;
}

describe.each(engines())('both directions (%s)', (engine) => {
  describe.concurrent.each<LedgerKind>(['tool', 'mapped'])('%s ledger', (ledger) => {
    it('balances are what was paid less what Stripe took back, twice in a row; audit names exactly the planted entries', async (test) => {
      const w = await world(engine, ledger, test);
      const ids = buyAll(w);
      const planted = await plantAll(w, ids);
      const window = ['--since', String(now() - 3 * DAY)];

      // The first run credits and takes back what Stripe shows so far; then Stripe moves on.
      const first = await reconcile(w, window);
      expect(first.counts.reversed).toBeGreaterThan(0);
      for (const b of BUYS) b.after?.(w.sim.store, ids.get(b.name)!.pi);
      // The next run reads what happened from the events.
      const events = await reconcile(w, []);
      expect(events.source).toBe('events');
      expect(events.counts.needsReview).toBe(0);

      const expected = expectedBalances(w.sim.store);
      const got = await balances(w);
      // The honest buyers hold exactly what Stripe backs.
      for (const u of ['1', '2', '3', '4']) expect(got[u], `user ${u}`).toBe(expected[u]);
      // Each refund or dispute at most one reversal and one reinstatement.
      const dupes = await w.app.query(
        'SELECT kind, payment_key FROM credit_ledger GROUP BY kind, payment_key HAVING count(*) > 1',
      );
      expect(dupes).toEqual([]);

      // A second run of each kind: nothing new, no row, no balance moves.
      const rows = await ledgerRows(w);
      const again = await reconcile(w, window);
      expect(again.counts.credited).toBe(0);
      expect(again.counts.reversed).toBe(0);
      await reconcile(w, []);
      expect(await ledgerRows(w)).toEqual(rows);
      expect(await balances(w)).toEqual(got);

      // audit: exactly the planted entries, and nothing the reversals took care of.
      const a = await w.json(['audit']);
      expect(a.code, a.stderr).toBe(3);
      const found = Object.fromEntries(a.doc.findings.map((f: JsonDoc) => [f.code, f.entryId]));
      expect(found).toEqual(planted);
      expect(a.doc.findings).toHaveLength(5);
      expect(a.doc.counts.findings).toBe(5);

      // The ledger with each finding put as audit expects it is Stripe's account, for every user.
      const corrected = { ...got };
      for (const f of a.doc.findings) {
        corrected[f.userId] = corrected[f.userId]! - Number(f.credits);
        if (f.expected.userId !== null)
          corrected[f.expected.userId] = corrected[f.expected.userId]! + Number(f.expected.credits);
      }
      expect(corrected).toEqual(expected);
    });
  });
});
