import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { DEFAULT_REQUEST_DEADLINE_MS, DEFAULT_RUN_BUDGET_MS, parseConfig, type Settings } from '../config.js';
import { startSimulator, type StripeSimulator } from '../simulator/index.js';
import type { CheckoutPaymentParams, PaymentIntentParams } from '../simulator/store.js';
import { parseWhen } from '../when.js';
import { audit, type AuditReport } from './audit.js';
import { reconcile, type ReconcileReport } from './reconcile.js';

/** The bundled sample data: users, config, and Stripe objects with times relative to now. */
export type { StripeSimulator };

const DEMO_DATA = fileURLToPath(new URL('../../data/demo-payments.json', import.meta.url));
export { DEMO_KEY } from './demo-key.js';
import { DEMO_KEY } from './demo-key.js';

type Relative<T> = Omit<T, 'created'> & { hoursAgo: number; $comment?: string };

interface DemoData {
  users: Array<{ id: number; email: string | null; name: string | null }>;
  config: unknown;
  since: string;
  checkoutPayments: Array<Relative<CheckoutPaymentParams>>;
  paymentIntents: Array<Relative<PaymentIntentParams>>;
}

export function loadDemoData(path = DEMO_DATA): DemoData {
  return JSON.parse(readFileSync(path, 'utf8')) as DemoData;
}

function absolute<T>(item: Relative<T>, now: number): T {
  const { hoursAgo, $comment: _comment, ...rest } = item;
  return { ...rest, created: now - Math.round(hoursAgo * 3600) } as T;
}

/** Starts the simulator on 127.0.0.1 (port 0: any free one) with the demo's Stripe objects. */
export async function startDemoStripe(data: DemoData, now: number, port = 0): Promise<StripeSimulator> {
  const sim = await startSimulator({ apiKeys: [DEMO_KEY], port });
  sim.store.loadFixture({
    checkoutPayments: data.checkoutPayments.map((p) => absolute(p, now)),
    paymentIntents: data.paymentIntents.map((p) => absolute(p, now)),
  });
  return sim;
}

/** A fresh SQLite file with the app's minimal users table (id, email, name), as the app would have it. */
function createDemoDatabase(path: string, users: DemoData['users']): void {
  mkdirSync(dirname(path), { recursive: true });
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  const db = new SQLite(path);
  try {
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT)');
    const insert = db.prepare('INSERT INTO users (id, email, name) VALUES (?, ?, ?)');
    db.transaction(() => users.forEach((u) => insert.run(u.id, u.email, u.name)))();
  } finally {
    db.close();
  }
}

/** What the app would show: the sum of each user's ledger entries. */
function readBalances(path: string): DemoResult['balances'] {
  const db = new SQLite(path, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT u.id AS userId, u.email AS email, COALESCE(SUM(l.credits), 0) AS balance
           FROM users u LEFT JOIN credit_ledger l ON l.user_id = CAST(u.id AS TEXT)
          GROUP BY u.id ORDER BY u.id`,
      )
      .all()
      .map((r) => {
        const row = r as { userId: number; email: string | null; balance: number };
        return { userId: String(row.userId), email: row.email, balance: row.balance };
      });
  } finally {
    db.close();
  }
}

export interface DemoResult {
  dbPath: string;
  /** Each user's balance after the runs, read back from credit_ledger. */
  balances: Array<{ userId: string; email: string | null; balance: number }>;
  dryRun: ReconcileReport;
  apply: ReconcileReport;
  rerun: ReconcileReport;
  /** The run after a refund and a chargeback came in. */
  reversals: ReconcileReport;
  /** The audit after an entry the old webhook wrote with no payment behind it. */
  audit: AuditReport;
  /** The simulator, still running, when the demo was asked to keep it. */
  simulator: StripeSimulator | null;
  /** What the demo ran with (its database, config, simulator and key): `demo --serve` serves the console on it. */
  settings: Settings;
}

/**
 * The whole flow: simulator up, fresh database, dry run, real run, and a rerun that writes nothing.
 * With `keep`, the simulator is left running for the caller (`result.simulator`), to be closed by it.
 */
export async function runDemo(opts: {
  cwd: string;
  actor: string;
  keep?: boolean;
  onReport?: (title: string, r: ReconcileReport) => void;
  onAudit?: (title: string, r: AuditReport) => void;
}): Promise<DemoResult> {
  const data = loadDemoData();
  const now = Math.floor(Date.now() / 1000);
  const dbPath = resolve(opts.cwd, join('data', 'demo.db'));
  createDemoDatabase(dbPath, data.users);
  const sim = await startDemoStripe(data, now);
  let kept = false; // closed here unless the demo succeeded and the caller keeps it
  try {
    const settings: Settings = {
      db: dbPath,
      configPath: null,
      config: parseConfig(data.config),
      stripeApiBase: sim.url,
      retryBudgetMs: 60_000,
      requestDeadlineMs: DEFAULT_REQUEST_DEADLINE_MS,
      runBudgetMs: DEFAULT_RUN_BUDGET_MS,
      rateOverrides: {},
      stripeApiKey: () => DEMO_KEY,
    };
    const since = parseWhen(data.since, now);
    const run = (dryRun: boolean) =>
      reconcile({ settings, cwd: opts.cwd, dryRun, since, until: now, yes: false, actor: opts.actor, now });
    const dryRun = await run(true);
    opts.onReport?.('1. Dry run (writes nothing)', dryRun);
    const apply = await run(false);
    opts.onReport?.('2. Real run', apply);
    const rerun = await run(false);
    opts.onReport?.('3. The same run again (exactly once: nothing new)', rerun);
    takeMoneyBack(sim, apply, now);
    const reversals = await run(false);
    opts.onReport?.('4. A refund and a chargeback come in: the next run finds them', reversals);
    plantUnbackedEntry(dbPath, now);
    // Audited as of now: the entries the runs above wrote carry the time they were written.
    const audited = await audit({ settings, cwd: opts.cwd, now: Math.floor(Date.now() / 1000) });
    opts.onAudit?.('5. Audit: credits that Stripe does not back', audited);
    const result = {
      dbPath,
      balances: readBalances(dbPath),
      dryRun,
      apply,
      rerun,
      reversals,
      audit: audited,
      simulator: opts.keep ? sim : null,
      settings,
    };
    kept = opts.keep === true;
    return result;
  } finally {
    if (!kept) await sim.close();
  }
}

/**
 * After the real run, Stripe takes money back from two credited purchases: a customer is refunded
 * half of the first, and the second is charged back (a dispute). Both an hour ago, inside the window.
 */
function takeMoneyBack(sim: StripeSimulator, apply: ReconcileReport, now: number): void {
  const credited = [...apply.decisions].filter((d) => d.status === 'credited' && d.paymentIntent);
  const [refunded, disputed] = credited;
  if (!refunded?.paymentIntent || !disputed?.paymentIntent || refunded.amount === null) {
    throw new Error('the demo data needs two credited purchases with a PaymentIntent');
  }
  sim.store.refund(refunded.paymentIntent, Math.floor(refunded.amount / 2), { created: now - 3600 });
  sim.store.openDispute(disputed.paymentIntent, { created: now - 3600 });
}

/**
 * What the panicked fix once wrote: credits for a user matched by name, under a Checkout Session
 * id that Stripe never had. Audit finds it (not_found).
 */
function plantUnbackedEntry(path: string, now: number): void {
  const db = new SQLite(path);
  try {
    db.prepare(
      `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, amount, currency,
                                  livemode, actor, created_at)
       VALUES ('1', 500, 'purchase', ?, ?, 5000, 'usd', 0, 'old-webhook', ?)`,
    ).run(UNBACKED_SESSION, UNBACKED_SESSION, new Date((now - 2 * 3600) * 1000).toISOString());
  } finally {
    db.close();
  }
}

const UNBACKED_SESSION = 'cs_test_a1HAZt9xslXTTIQrh6bpy0VAq3GZuO2R8UziJdi0Y4mj4TIJZ9RnvIh4TO';
