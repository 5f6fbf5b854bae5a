import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LedgerMapping } from '../../src/config.js';
import { appLedgerRefs } from '../../src/ledger/app-ledger.js';
import { openDatabase, parseDbUrl } from '../../src/ledger/db.js';
import { referenceCounts, unreadableReferences } from '../../src/ledger/introspect/contents.js';
import { writeTransaction } from '../../src/ledger/engine.js';
import { insertPurchases, OWN_LEDGER_ONLY, type Adoption } from '../../src/ledger/ledger.js';
import {
  existingTables,
  insertReassignment,
  ledgerEntriesForPayment,
  paymentHolding,
  sessionKeys,
} from '../../src/ledger/corrections.js';
import {
  insertReversals,
  readReversalState,
  upsertReversalReview,
  type HeldPurchase,
  type ReversalToWrite,
} from '../../src/ledger/reversals.js';
import type { Database } from '../../src/ledger/schema.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { resolveAuditEntry } from '../../src/ledger/audit-resolve.js';
import type { CreditToWrite, ReversalDecision } from '../../src/reconcile/types.js';
import type { Kysely } from 'kysely';
import { ROOT } from '../helpers/cli.js';
import { engines } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

/** Stripe-shaped ids: a PaymentIntent, its session, a refund and a dispute of it, per n. */
const b62 = (n: number) => `3MtwBwLkdIwHu7ix${String(n).padStart(4, '0')}Qa`;
const pi = (n: number) => `pi_${b62(n)}`;
const cs = (n: number) => `cs_test_a1B2${b62(n)}`;
const re = (n: number, k = 0) => `re_${b62(n)}R${k}`;
const dp = (n: number) => `dp_1Mt${b62(n)}`;

function purchase(n: number, userId: string, credits: number): CreditToWrite {
  return {
    paymentKey: pi(n),
    checkoutSession: cs(n),
    paymentIntent: pi(n),
    amount: 1000,
    currency: 'usd',
    userId,
    matchedBy: 'client_reference_id',
    credits,
    livemode: false,
    customerId: null,
  } as CreditToWrite;
}

async function credit(db: Kysely<Database>, items: CreditToWrite[], adoption: Adoption = OWN_LEDGER_ONLY) {
  await writeTransaction(db, (trx) =>
    insertPurchases(trx, items, { runId: null, actor: 'webhook', reason: null, adoption }),
  );
}

function decision(
  id: string,
  n: number,
  credits: number,
  status: ReversalDecision['status'] = 'reversed',
  kind: ReversalDecision['kind'] = 'reversal',
): ReversalDecision {
  return {
    id,
    source: id.startsWith('dp_') ? 'dispute' : 'refund',
    paymentKey: pi(n),
    userId: null,
    credits,
    status,
    reason: status === 'needs_review' ? 'refunded_after_credit' : null,
    kind,
  };
}

const lookup = (n: number, ids: string[]) => ({
  paymentKey: pi(n),
  checkoutSession: cs(n),
  paymentIntent: pi(n),
  reversalIds: ids,
});

async function held(db: Kysely<Database>, n: number, ids: string[] = [], mapped: LedgerMapping | null = null) {
  return (await readReversalState(db, [lookup(n, ids)], mapped)).purchases.get(pi(n))!;
}

const write = (db: Kysely<Database>, items: ReversalToWrite[], adoption: Adoption = OWN_LEDGER_ONLY, actor = 'run') =>
  writeTransaction(db, (trx) => insertReversals(trx, items, { runId: null, actor, reason: null, adoption }));

for (const engine of engines()) {
  describe(`reversals in the ledger (${engine})`, () => {
    const setup = engineLedger(engine);

    it('reads each payment’s purchase (its holder after a reassignment), its written reversals and dismissals', async () => {
      const { open } = await setup.start();
      await credit(open.db, [purchase(1, '1', 100), purchase(2, '2', 50)]);
      const h = paymentHolding(await ledgerEntriesForPayment(open.db, [pi(2)]))!;
      await insertReassignment(open.db, h, '3', { actor: 'ann', reason: 'wrong user', adoption: OWN_LEDGER_ONLY });

      const p1 = await held(open.db, 1);
      await write(open.db, [
        { decision: decision(re(1), 1, -33), purchase: p1 },
        { decision: decision(dp(1), 1, -67), purchase: p1 },
      ]);
      await write(open.db, [{ decision: decision(dp(1), 1, 67, 'reinstated', 'reinstatement'), purchase: p1 }]);
      await writeTransaction(open.db, (trx) =>
        upsertReversalReview(trx, [{ decision: decision(re(2), 2, -25, 'needs_review'), purchase: p1 }], null),
      );
      await open.db
        .updateTable('stripe_credits_review')
        .set({ status: 'dismissed' })
        .where('payment_key', '=', re(2))
        .execute();

      const state = await readReversalState(
        open.db,
        [lookup(1, [re(1), dp(1)]), lookup(2, [re(2)]), lookup(3, [re(3)])],
        null,
      );
      expect(state.purchases.get(pi(1))).toMatchObject({ userId: '1', credits: 100, amount: 1000, currency: 'usd' });
      expect(state.purchases.get(pi(2))).toMatchObject({ userId: '3', credits: 50 });
      expect(state.purchases.has(pi(3))).toBe(false);
      expect(state.written.get(pi(1))!.sort((a, b) => (a.id + a.kind < b.id + b.kind ? -1 : 1))).toEqual([
        { kind: 'reinstatement', id: dp(1), credits: 67 },
        { kind: 'reversal', id: dp(1), credits: -67 },
        { kind: 'reversal', id: re(1), credits: -33 },
      ]);
      expect(state.written.has(pi(2))).toBe(false);
      expect([...state.dismissed]).toEqual([re(2)]);
    });

    it('finds each payment’s rows by key: the row tests made grow with the payments, not their square', async () => {
      const { open } = await setup.start();
      const n = 1000;
      const ns = Array.from({ length: n }, (_, i) => i + 1);
      await credit(
        open.db,
        ns.map((i) => purchase(i, String((i % 7) + 1), 10)),
      );
      // Every predicate a filter in the reading runs: searching a chunk's rows once per payment
      // (audit's and reconcile's reading of 500 payments at a time) costs 500 tests per payment.
      const filter = Array.prototype.filter;
      let tests = 0;
      Array.prototype.filter = function <T>(this: T[], pred: (v: T, i: number, a: T[]) => unknown, that?: unknown) {
        return filter.call(this, (v: T, i: number, a: T[]) => {
          tests += 1;
          return pred.call(that, v, i, a);
        }) as T[];
      } as typeof filter;
      let state;
      try {
        state = await readReversalState(
          open.db,
          ns.map((i) => lookup(i, [])),
          null,
        );
      } finally {
        Array.prototype.filter = filter;
      }
      expect(state.purchases.size).toBe(n);
      expect(state.purchases.get(pi(n))).toMatchObject({ userId: String((n % 7) + 1), credits: 10 });
      expect(tests).toBeLessThan(20 * n);
    });

    it('a purchase audit resolve --reverse took back holds nothing more for a refund to take', async () => {
      const { open } = await setup.start();
      await credit(open.db, [purchase(4, '1', 100), purchase(5, '2', 100)]);
      const entry = await open.db
        .selectFrom('credit_ledger')
        .select('id')
        .where('payment_key', '=', pi(4))
        .executeTakeFirstOrThrow();
      await resolveAuditEntry(open.db, await auditLedger(open.db, null), OWN_LEDGER_ONLY, {
        entryId: String(entry.id),
        actor: 'ann',
        reason: 'credited by the old webhook twice',
        reverse: true,
      });
      expect(await held(open.db, 4)).toMatchObject({ userId: '1', credits: 0 });
      expect(await held(open.db, 5)).toMatchObject({ userId: '2', credits: 100 });
    });

    it('writes each reversal and reinstatement once; a rerun reports them already there; review entries close', async () => {
      const { app, open } = await setup.start();
      await credit(open.db, [purchase(1, '1', 100)]);
      const p = await held(open.db, 1);
      const queue = (credits: number, runId: number) =>
        writeTransaction(open.db, (trx) =>
          upsertReversalReview(trx, [{ decision: decision(re(1), 1, credits, 'needs_review'), purchase: p }], runId),
        );
      // New to the queue once; a later run brings the credits at stake up to date, not a second entry.
      expect([...(await queue(-30, 6))]).toEqual([re(1)]);
      expect([...(await queue(-40, 7))]).toEqual([]);
      expect(
        await app.query(
          'SELECT user_id, credits, source, reversal_of, first_run_id, last_run_id FROM stripe_credits_review',
        ),
      ).toEqual([
        { user_id: '1', credits: -40, source: 'refund', reversal_of: pi(1), first_run_id: 6, last_run_id: 7 },
      ]);
      const items: ReversalToWrite[] = [
        { decision: decision(re(1), 1, -40), purchase: p },
        { decision: decision(re(1, 1), 1, -10, 'skipped'), purchase: p },
      ];
      expect(await write(open.db, items)).toEqual({ written: [re(1)], alreadyThere: [] });
      expect(await write(open.db, items)).toEqual({ written: [], alreadyThere: [re(1)] });
      const back = [{ decision: decision(re(1), 1, 40, 'reinstated', 'reinstatement'), purchase: p }];
      expect(await write(open.db, back)).toEqual({ written: [re(1)], alreadyThere: [] });
      expect(await write(open.db, back)).toEqual({ written: [], alreadyThere: [re(1)] });

      const rows = await app.query<Record<string, unknown>>(
        'SELECT user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, amount, currency, livemode, actor FROM credit_ledger ORDER BY id',
      );
      expect(
        rows.map((r) => ({ ...r, credits: Number(r.credits), amount: Number(r.amount), livemode: Number(r.livemode) })),
      ).toEqual([
        expect.objectContaining({ kind: 'purchase', credits: 100 }),
        {
          user_id: '1',
          credits: -40,
          kind: 'reversal',
          payment_key: re(1),
          checkout_session_id: cs(1),
          payment_intent_id: pi(1),
          amount: 1000,
          currency: 'usd',
          livemode: 0,
          actor: 'run',
        },
        {
          user_id: '1',
          credits: 40,
          kind: 'reinstatement',
          payment_key: re(1),
          checkout_session_id: cs(1),
          payment_intent_id: pi(1),
          amount: 1000,
          currency: 'usd',
          livemode: 0,
          actor: 'run',
        },
      ]);
      // A session id still names one payment key (support commands find payments so), not its refunds.
      expect(await sessionKeys(open.db, [cs(1)], await existingTables(open.db))).toEqual([pi(1)]);
      const review = await app.query<{ status: string; resolution: string }>(
        'SELECT status, resolution FROM stripe_credits_review WHERE payment_key = ?',
        re(1),
      );
      expect(review).toEqual([{ status: 'resolved', resolution: 'reversed' }]);
    });

    it('with a mapped ledger and a balance column: the app’s row and the balance move in the same transaction, below zero', async () => {
      const { app, open } = await setup.start();
      await app.exec(
        'CREATE TABLE credit_transactions (user_id TEXT NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, type TEXT NOT NULL, created_at TEXT)',
      );
      await app.exec('CREATE UNIQUE INDEX credit_transactions_stripe_id ON credit_transactions (stripe_id)');
      await app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
      const mapped: LedgerMapping = {
        schema: null,
        table: 'credit_transactions',
        columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_at' },
        createdAtFormat: 'iso',
        set: { type: 'purchase' },
        setManual: { type: 'adjustment' },
        refKind: 'payment_intent',
      };
      const adoption: Adoption = {
        ledger: mapped,
        balance: { schema: null, table: 'users', column: 'credits', key: 'id' },
      };
      await credit(open.db, [purchase(1, '1', 100)], adoption);
      // A payment the app's own webhook credited: only its table knows it.
      await app.exec(
        "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES ('2', 30, ?, 'purchase')",
        pi(2),
      );
      await app.exec('UPDATE users SET credits = 30 WHERE id = 2');
      // The users spent their credits.
      await app.exec('UPDATE users SET credits = 0');

      const state = await readReversalState(
        open.db,
        [lookup(1, [re(1)]), { ...lookup(2, [dp(2)]), amount: 300, currency: 'eur', livemode: true }],
        mapped,
      );
      const p1 = state.purchases.get(pi(1))!;
      const p2: HeldPurchase = state.purchases.get(pi(2))!;
      expect(p2).toMatchObject({ userId: '2', credits: 30, amount: 300, currency: 'eur', livemode: true });
      expect(
        await write(
          open.db,
          [
            { decision: decision(re(1), 1, -100), purchase: p1 },
            { decision: decision(dp(2), 2, -30), purchase: p2 },
          ],
          adoption,
        ),
      ).toEqual({ written: [re(1), dp(2)], alreadyThere: [] });
      // Again: nothing more, anywhere.
      expect((await write(open.db, [{ decision: decision(re(1), 1, -100), purchase: p1 }], adoption)).written).toEqual(
        [],
      );
      // Given back: the app's unique reference index holds the reversal's id; the reinstatement has none.
      await write(
        open.db,
        [{ decision: decision(dp(2), 2, 30, 'reinstated', 'reinstatement'), purchase: p2 }],
        adoption,
      );

      const appRows = await app.query<{ user_id: string; amount: number; stripe_id: string | null; type: string }>(
        'SELECT user_id, amount, stripe_id, type FROM credit_transactions ORDER BY amount, stripe_id',
      );
      expect(appRows.map((r) => ({ ...r, amount: Number(r.amount) }))).toEqual(
        expect.arrayContaining([
          { user_id: '1', amount: -100, stripe_id: re(1), type: 'adjustment' },
          { user_id: '2', amount: -30, stripe_id: dp(2), type: 'adjustment' },
          { user_id: '2', amount: 30, stripe_id: null, type: 'adjustment' },
        ]),
      );
      expect(appRows).toHaveLength(5);
      // The refund and dispute ids written there are no references the tool failed to read.
      expect(await appLedgerRefs(open.db, mapped)).toEqual({ readable: true, unreadable: 0, examples: [] });
      const counts = await referenceCounts(open.db, {
        schema: null,
        table: 'credit_transactions',
        column: 'stripe_id',
      });
      expect(counts).toMatchObject({ refs: 4, readable: 2, reversals: 2 });
      expect(
        await unreadableReferences(open.db, { schema: null, table: 'credit_transactions', column: 'stripe_id' }, 10),
      ).toEqual([]);
      const balances = await app.query<{ id: number; credits: number }>('SELECT id, credits FROM users ORDER BY id');
      expect(balances.map((r) => [Number(r.id), Number(r.credits)])).toEqual([
        [1, -100],
        [2, 0],
        [3, 0],
      ]);
    });

    it('a run’s whole set in one call: more rows than one SQLite statement binds', async () => {
      const { app, open } = await setup.start();
      const N = 3000;
      await credit(
        open.db,
        Array.from({ length: N }, (_, n) => purchase(n, String((n % 3) + 1), 10)),
      );
      const state = await readReversalState(
        open.db,
        Array.from({ length: N }, (_, n) => lookup(n, [re(n)])),
        null,
      );
      expect(state.purchases.size).toBe(N);
      const items = Array.from({ length: N }, (_, n) => ({
        decision: decision(re(n), n, -10),
        purchase: state.purchases.get(pi(n))!,
      }));
      expect((await write(open.db, items)).written).toHaveLength(N);
      const rows = await app.query<{ n: number }>("SELECT count(*) AS n FROM credit_ledger WHERE kind = 'reversal'");
      expect(Number(rows[0]!.n)).toBe(N);
    });

    it('concurrent writers of the same decisions: one entry per (kind, id), each reported written by exactly one', async () => {
      const { app, open } = await setup.start();
      const N = 40;
      await credit(
        open.db,
        Array.from({ length: N }, (_, n) => purchase(n, '1', 10)),
      );
      const state = await readReversalState(
        open.db,
        Array.from({ length: N }, (_, n) => lookup(n, [re(n)])),
        null,
      );
      const items = Array.from({ length: N }, (_, n) => ({
        decision: decision(re(n), n, -10),
        purchase: state.purchases.get(pi(n))!,
      }));
      const outcomes = engine === 'sqlite' ? await raceInProcesses(app.url, items) : await raceInPool(app.url, items);
      const written = outcomes.flatMap((o) => o.written).sort();
      expect(written).toEqual(items.map((i) => i.decision.id).sort());
      for (const o of outcomes) expect(o.written.length + o.alreadyThere.length).toBe(N);
      const rows = await app.query<{ n: number }>("SELECT count(*) AS n FROM credit_ledger WHERE kind = 'reversal'");
      expect(Number(rows[0]!.n)).toBe(N);
    });
  });
}

interface Outcome {
  written: string[];
  alreadyThere: string[];
}

/** Postgres: two pools, each writing every decision in its own transaction. */
async function raceInPool(url: string, items: ReversalToWrite[]): Promise<Outcome[]> {
  const opens = await Promise.all([1, 2].map(() => openDatabase(parseDbUrl(url, ROOT), { readonly: false })));
  try {
    return await Promise.all(opens.map((o) => write(o.db, items)));
  } finally {
    for (const o of opens) await o.close();
  }
}

/**
 * SQLite: two processes (two connections in one thread would wait on each other's lock with the
 * event loop blocked), each running the built writer on the same file.
 */
async function raceInProcesses(path: string, items: ReversalToWrite[]): Promise<Outcome[]> {
  const script = `
    const { openDatabase, parseDbUrl } = await import(${JSON.stringify(join(ROOT, 'dist/ledger/db.js'))});
    const { writeTransaction } = await import(${JSON.stringify(join(ROOT, 'dist/ledger/engine.js'))});
    const { insertReversals } = await import(${JSON.stringify(join(ROOT, 'dist/ledger/reversals.js'))});
    const open = await openDatabase(parseDbUrl(${JSON.stringify(path)}, '/'), { readonly: false });
    const items = ${JSON.stringify(items)};
    const out = { written: [], alreadyThere: [] };
    for (const i of items) {
      const o = await writeTransaction(open.db, (trx) => insertReversals(trx, [i], { runId: null, actor: 'p', reason: null, adoption: { ledger: null, balance: null } }));
      out.written.push(...o.written); out.alreadyThere.push(...o.alreadyThere);
    }
    await open.close();
    process.stdout.write(JSON.stringify(out));
  `;
  const run = () =>
    new Promise<Outcome>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) =>
        code === 0 ? resolve(JSON.parse(out) as Outcome) : reject(new Error(`exit ${code}: ${err}`)),
      );
    });
  return Promise.all([run(), run()]);
}
