import { sql, type Insertable, type Kysely } from 'kysely';
import type { AppConfig, LedgerMapping } from '../config.js';
import { appRefsFound, insertAppCredits, lockPaymentKeys, moveBalances, refFor, type AppCredit } from './app-ledger.js';
import type { CreditToWrite, PaymentDecision, Payment } from '../reconcile/types.js';
import type { ReconcileCounts } from '../reconcile/plan.js';
import { chunks, paddedChunks, padToLadder } from './chunks.js';
import { RowInsert, RowsInsert, Statement } from './compile-once.js';
import { engineFor } from './engine.js';
import { INTENT_NOT_KEY } from './migrations/0006-fewer-indexes.js';
import { SESSION_NOT_KEY } from './migrations/0008-ledger-session-index.js';
import type { Database, NewLedgerRow, PaymentsTable } from './schema.js';

/** Rows per write transaction (SQLite allows 32766 bound parameters: 17 columns × 1000 fit). */
export const WRITE_BATCH = 1000;
/** Payments per lookup query (each brings at most three bound values). */
const LOOKUP_CHUNK = 1000;

/** The current time as the tool's tables keep it: ISO-8601 UTC text. */
export function nowIso(): string {
  return new Date().toISOString();
}

/**
 * Which of these payments the ledger already credits: a purchase entry under the payment key (or
 * under the session id, for entries keyed that way), or one that names the payment's Checkout
 * Session. Our writers always key a payment with a PaymentIntent by that id (a paid session has
 * one PaymentIntent, for good), so the PaymentIntent column needs no lookup of its own, and the
 * session column only for entries keyed by neither (sessionNotKey). Two indexed IN lists per
 * chunk. With a mapped ledger, also every payment whose PaymentIntent id or Checkout Session id
 * the app's table holds.
 * `toolTables: false` (a dry run before the first migration): only the app's own table is read.
 * `baselines: false` when the caller knows there are none (see anyBaselined): one query per chunk
 * fewer. `entries: false` likewise when it knows the ledger holds no entry the lists could find
 * (see anyEntryToFind).
 */
export async function findCredited(
  db: Kysely<Database>,
  payments: readonly Payment[],
  mapped: LedgerMapping | null = null,
  opts: { toolTables?: boolean; baselines?: boolean; entries?: boolean } = {},
): Promise<Set<string>> {
  const toolTables = opts.toolTables ?? true;
  const found = new Set<string>();
  // Nothing to ask (a first run): the lists are not even made, which costs about as much as asking.
  if (!mapped && !(toolTables && (opts.entries !== false || opts.baselines !== false))) return found;
  for (const part of chunks(payments, LOOKUP_CHUNK)) {
    // Sorted: SQLite builds each IN list into a temporary index, which it builds faster in order.
    // Two short lists sorted and merged cost less than one long list sorted.
    const sessions: string[] = [];
    for (const p of part) if (p.session) sessions.push(p.session.id);
    sessions.sort();
    // Every payment key and session id, once each (a payment with no PaymentIntent is keyed by its session).
    const ids = mergeSorted(part.map((p) => p.paymentKey).sort(), sessions);
    // Padded to a few lengths (still sorted): a few statements prepared, not one per batch (chunks.ts).
    padToLadder(ids, 2 * LOOKUP_CHUNK);
    padToLadder(sessions, LOOKUP_CHUNK);
    if (toolTables) {
      const entries = opts.entries === false ? { rows: [] } : await PURCHASES.run(db, ids, sessions);
      for (const r of entries.rows) {
        if (r.payment_key) found.add(r.payment_key);
        if (r.checkout_session_id) found.add(r.checkout_session_id);
      }
      // A baselined payment was handled by means the tool cannot see: as good as credited.
      for (const r of opts.baselines === false ? [] : await baselined(db, ids, sessions)) {
        found.add(r.payment_key);
        if (r.checkout_session_id) found.add(r.checkout_session_id);
      }
    }
    if (mapped) for (const ref of await appRefsFound(db, mapped, ids)) found.add(ref);
  }
  return found;
}

/** Entries keyed by a payment key; entries under the session index (migration 0008). */
const KEYED_ENTRY = new Statement(
  (db) => db.selectFrom('credit_ledger').select('id').where('payment_key', 'is not', null).limit(1).compile(),
  () => [1],
);
const SESSION_ENTRY = new Statement(
  (db) => db.selectFrom('credit_ledger').select('id').where(sql.raw<boolean>(SESSION_NOT_KEY)).limit(1).compile(),
  () => [1],
);

/**
 * Whether the ledger holds an entry that findCredited's lists could find: one with a payment key,
 * or one in the Checkout Session index. A first run's ledger holds none, and then every batch can
 * skip the lists (`entries: false`), which cost more than deciding the payments. Two index probes.
 */
export async function anyEntryToFind(db: Kysely<Database>): Promise<boolean> {
  return (await KEYED_ENTRY.run(db)).rows.length > 0 || (await SESSION_ENTRY.run(db)).rows.length > 0;
}

/** Two sorted lists as one, sorted, each value once. */
export function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i]! < b[j]!) ? a[i++]! : b[j++]!;
    if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  }
  return out;
}

/** purchasesQuery, compiled once per shape (compile-once.ts). */
const PURCHASES = new Statement(
  (db, keys: readonly string[], sessions: readonly string[]) => purchasesQuery(db, keys, sessions).compile(),
  (keys, sessions) => ['purchase', ...keys, ...sessions],
);

/** The purchase entries under these payment keys, or naming these sessions (see findCredited). */
export function purchasesQuery(db: Kysely<Database>, keys: readonly string[], sessions: readonly string[]) {
  const q = db
    .selectFrom('credit_ledger')
    .select(['payment_key', 'checkout_session_id'])
    .where('kind', '=', 'purchase');
  return sessions.length > 0
    ? q.where((eb) => eb.or([eb('payment_key', 'in', keys), sessionNotKey(sessions)]))
    : q.where('payment_key', 'in', keys);
}

/**
 * Entries whose Checkout Session id is one of `sessions`, less those whose payment key is that
 * session id or their PaymentIntent id, for a query that asks for `payment_key IN` the payments'
 * keys and session ids as well (so it finds the same entries as a plain `checkout_session_id IN`):
 * the session index holds only those entries (migration 0008), and spelling out its condition lets
 * both engines use it.
 */
export function sessionNotKey(sessions: readonly string[]) {
  return inPartialIndex('checkout_session_id', sessions, SESSION_NOT_KEY);
}

/**
 * `column IN (values)` under the condition of the column's partial index, spelled out so that both
 * engines use that index (migrations 0006, 0007 and 0008).
 */
export function inPartialIndex(
  column: 'checkout_session_id' | 'payment_intent_id',
  values: readonly string[],
  indexCondition: string,
) {
  return sql<boolean>`(${sql.raw(column)} IN (${sql.join(values)}) AND ${sql.raw(indexCondition)})`;
}

async function baselined(db: Kysely<Database>, keys: string[], sessions: string[]) {
  try {
    return await db
      .selectFrom('stripe_credits_baseline')
      .select(['payment_key', 'checkout_session_id'])
      .where((eb) =>
        sessions.length > 0
          ? eb.or([eb('payment_key', 'in', keys), eb('checkout_session_id', 'in', sessions)])
          : eb('payment_key', 'in', keys),
      )
      .execute();
  } catch (e) {
    // A ledger migrated before baselines existed, read by a dry run (which never migrates).
    if (engineFor(db).isMissingTable(e)) return [];
    throw e;
  }
}

/**
 * Whether `baseline` ever recorded a payment (most ledgers: never, and then reconcile need not look
 * each payment up there). A run holds the run lock, as `baseline` does, so none appear meanwhile.
 */
export async function anyBaselined(db: Kysely<Database>): Promise<boolean> {
  try {
    return (
      (await db.selectFrom('stripe_credits_baseline').select('payment_key').limit(1).executeTakeFirst()) !== undefined
    );
  } catch (e) {
    if (engineFor(db).isMissingTable(e)) return false;
    throw e;
  }
}

/** Records payments as already handled (`baseline`); returns how many were new. */
export async function insertBaseline(
  trx: Kysely<Database>,
  payments: readonly Payment[],
  opts: { until: number; actor: string },
): Promise<number> {
  if (payments.length === 0) return 0;
  const at = nowIso();
  const rows = await trx
    .insertInto('stripe_credits_baseline')
    .values(
      payments.map((p) => ({
        payment_key: p.paymentKey,
        checkout_session_id: p.session?.id ?? null,
        payment_intent_id: p.paymentIntent?.id ?? p.session?.paymentIntentId ?? null,
        paid_at: new Date(p.paidAt * 1000).toISOString(),
        baselined_at: at,
        until: new Date(opts.until * 1000).toISOString(),
        actor: opts.actor,
      })),
    )
    .onConflict((oc) => oc.column('payment_key').doNothing())
    .returning('payment_key')
    .execute();
  return rows.length;
}

export function isCreditedIn(found: Set<string>, p: Payment): boolean {
  return (
    found.has(p.paymentKey) ||
    (p.session !== null && found.has(p.session.id)) ||
    (p.paymentIntent !== null && found.has(p.paymentIntent.id))
  );
}

export async function ledgerHasPurchases(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('credit_ledger')
    .select('id')
    .where('kind', '=', 'purchase')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The livemode values the ledger's purchases were written in (at most both). */
export async function ledgerModes(db: Kysely<Database>): Promise<boolean[]> {
  const rows = await db
    .selectFrom('credit_ledger')
    .select('livemode')
    .where('kind', '=', 'purchase')
    .groupBy('livemode')
    .execute();
  return rows.map((r) => Number(r.livemode) === 1);
}

function purchaseRow(
  d: CreditToWrite,
  runId: number | null,
  actor: string,
  reason: string | null,
  at: string,
): NewLedgerRow {
  return {
    user_id: d.userId!,
    credits: d.credits!,
    kind: 'purchase',
    payment_key: d.paymentKey,
    checkout_session_id: d.checkoutSession,
    payment_intent_id: d.paymentIntent,
    amount: d.amount,
    currency: d.currency,
    livemode: d.livemode ? 1 : 0,
    actor,
    reason,
    run_id: runId,
    created_at: at,
    matched_by: d.matchedBy,
    customer_id: d.customerId,
  };
}

/** Every id a decided payment goes by: its key, its Checkout Session id, its PaymentIntent id. */
export function paymentIds(d: Pick<PaymentDecision, 'paymentKey' | 'checkoutSession' | 'paymentIntent'>): string[] {
  return [
    d.paymentKey,
    ...(d.checkoutSession ? [d.checkoutSession] : []),
    ...(d.paymentIntent ? [d.paymentIntent] : []),
  ];
}

/** Where credits go besides `credit_ledger`: the app's own table and balance column, when configured. */
export type Adoption = Pick<AppConfig, 'ledger' | 'balance'>;

export const OWN_LEDGER_ONLY: Adoption = { ledger: null, balance: null };

/**
 * Inserts purchase entries for credited decisions. The unique (kind, payment_key) constraint
 * decides: a row that conflicts was credited by someone else meanwhile (a concurrent run, the
 * webhook library, `assign`), and is returned as not inserted. Must run inside a write transaction
 * (writeTransaction).
 *
 * With a mapped ledger the check is made again here, under a lock per payment key (Postgres; SQLite
 * holds the write lock from the transaction's start): a payment the app's table now holds (its own
 * webhook credited it since the run looked) is not inserted. Each inserted purchase also goes into
 * the app's table in its shape, and moves the balance column when one is configured.
 */
export async function insertPurchases(
  trx: Kysely<Database>,
  decisions: readonly CreditToWrite[],
  opts: { runId: number | null; actor: string; reason: string | null; adoption: Adoption },
): Promise<Set<string>> {
  const inserted = new Set<string>();
  if (decisions.length === 0) return inserted;
  const at = new Date();
  const { ledger: mapped, balance } = opts.adoption;
  let todo = decisions;
  if (mapped) {
    await lockPaymentKeys(
      trx,
      decisions.map((d) => d.paymentKey),
    );
    const inApp = await appRefsFound(trx, mapped, decisions.flatMap(paymentIds));
    if (inApp.size > 0) todo = decisions.filter((d) => !paymentIds(d).some((id) => inApp.has(id)));
    if (todo.length === 0) return inserted;
  }
  const atText = at.toISOString();
  const values = todo.map((d) => purchaseRow(d, opts.runId, opts.actor, opts.reason, atText));
  for (const key of await insertLedgerRows(trx, values)) inserted.add(key);
  if (inserted.size > 0 && (mapped || balance)) {
    let written = todo.filter((d) => inserted.has(d.paymentKey));
    if (mapped) written = await insertIntoAppTable(trx, mapped, written, inserted, at);
    const credits: AppCredit[] = written.map((d) => ({ userId: d.userId!, credits: d.credits!, ref: null }));
    if (balance) await moveBalances(trx, balance, credits);
  }
  // Most ledgers have no open review entry most of the time: one index probe then spares a lookup
  // of each inserted key (this statement's, so as exact as the update itself).
  if (inserted.size > 0 && (await anyInReview(trx))) {
    await trx
      .updateTable('stripe_credits_review')
      .set({
        status: 'resolved',
        resolved_at: at.toISOString(),
        resolved_by: opts.actor,
        resolution: opts.runId !== null ? `credited by run ${opts.runId}` : 'credited',
        updated_at: at.toISOString(),
      })
      .where('payment_key', 'in', [...inserted])
      .where('status', '=', 'open')
      .execute();
  }
  return inserted;
}

/** Purchase entries, each unless the ledger holds one under its (kind, payment_key) already. */
function purchaseInsert(db: Kysely<Database>, rows: readonly NewLedgerRow[]) {
  return db
    .insertInto('credit_ledger')
    .values(rows)
    .onConflict((oc) => oc.columns(['kind', 'payment_key']).doNothing());
}

const PURCHASES_COUNTED = new RowsInsert((db, rows: readonly NewLedgerRow[]) => purchaseInsert(db, rows).compile());
const PURCHASES_RETURNING = new RowsInsert((db, rows: readonly NewLedgerRow[]) =>
  purchaseInsert(db, rows).returning('payment_key').compile(),
);
const PURCHASE_ONE = new RowInsert((db, row: NewLedgerRow) => purchaseInsert(db, [row]).compile());

/**
 * Inserts purchase entries, each unless the ledger holds one under its (kind, payment_key) already;
 * returns the payment keys inserted (the engine picks how it learns them: Engine.insertReportingKeys).
 */
async function insertLedgerRows(trx: Kysely<Database>, values: NewLedgerRow[]): Promise<string[]> {
  return engineFor(trx).insertReportingKeys(trx, values, {
    counted: async (rows) => (await PURCHASES_COUNTED.run(trx, rows)).numAffectedRows ?? 0n,
    returning: async (rows) =>
      (await PURCHASES_RETURNING.run(trx, rows)).rows.flatMap((r) => (r.payment_key ? [r.payment_key] : [])),
    keyOf: (row) => row.payment_key!,
    one: (row) => PURCHASE_ONE.one(trx, row),
  });
}

/**
 * Writes the purchases into the app's table. When its unique index on the reference refuses one
 * (Postgres: the app's webhook committed the same id after this transaction checked; SQLite cannot
 * get there, the write lock is held from the start), the insert is undone to a savepoint, the
 * payments the app now holds lose their entry in credit_ledger (so they are reported
 * already_credited) and the rest is written: one race does not fail the whole batch.
 */
async function insertIntoAppTable(
  trx: Kysely<Database>,
  mapped: LedgerMapping,
  decisions: CreditToWrite[],
  inserted: Set<string>,
  at: Date,
): Promise<CreditToWrite[]> {
  let todo = decisions;
  for (let attempt = 1; todo.length > 0; attempt++) {
    await sql`SAVEPOINT stripe_credits_app`.execute(trx);
    try {
      await insertAppCredits(
        trx,
        mapped,
        todo.map((d) => ({ userId: d.userId!, credits: d.credits!, ref: refFor(mapped, d) })),
        'purchase',
        at,
      );
      await sql`RELEASE SAVEPOINT stripe_credits_app`.execute(trx);
      return todo;
    } catch (e) {
      await sql`ROLLBACK TO SAVEPOINT stripe_credits_app`.execute(trx);
      if (!engineFor(trx).isUniqueViolation(e) || attempt >= 3) throw e;
      const taken = await appRefsFound(trx, mapped, todo.flatMap(paymentIds));
      const lost = todo.filter((d) => paymentIds(d).some((id) => taken.has(id)));
      if (lost.length === 0) throw e; // another unique index of the app's refused: not a race on the reference
      await trx
        .deleteFrom('credit_ledger')
        .where('kind', '=', 'purchase')
        .where(
          'payment_key',
          'in',
          lost.map((d) => d.paymentKey),
        )
        .execute();
      for (const d of lost) inserted.delete(d.paymentKey);
      todo = todo.filter((d) => !lost.includes(d));
    }
  }
  return todo;
}

/** A review entry's row, as upsertReview writes it. */
type ReviewRow = Insertable<Database['stripe_credits_review']>;

/** A payment already queued keeps its place and status; what it says is brought up to date. */
const REVIEW_UPSERT = new RowsInsert((db, rows: readonly ReviewRow[]) =>
  db
    .insertInto('stripe_credits_review')
    .values(rows)
    .onConflict((oc) =>
      oc.column('payment_key').doUpdateSet((eb) => ({
        reason: eb.ref('excluded.reason'),
        detail: eb.ref('excluded.detail'),
        emails: eb.ref('excluded.emails'),
        candidate_user_ids: eb.ref('excluded.candidate_user_ids'),
        unknown_ids: eb.ref('excluded.unknown_ids'),
        last_run_id: eb.ref('excluded.last_run_id'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .returning(['payment_key', 'first_run_id'])
    .compile(),
);

/**
 * Records payments that need a person. A payment already queued keeps its place (and a dismissed
 * one stays dismissed); returns the keys that are new to the queue in this run.
 */
export async function upsertReview(
  trx: Kysely<Database>,
  decisions: readonly PaymentDecision[],
  /** null for writers that are not runs (the library's fulfill). */
  runId: number | null,
): Promise<Set<string>> {
  const fresh = new Set<string>();
  if (decisions.length === 0) return fresh;
  const at = nowIso();
  const values = decisions.map((d): ReviewRow => ({
    payment_key: d.paymentKey,
    checkout_session_id: d.checkoutSession,
    payment_intent_id: d.paymentIntent,
    reason: d.reason ?? 'unknown',
    detail: d.detail ?? null,
    amount: d.amount,
    currency: d.currency,
    livemode: d.livemode ? 1 : 0,
    paid_at: new Date(d.paidAt * 1000).toISOString(),
    emails: JSON.stringify(d.emails),
    candidate_user_ids: JSON.stringify(d.candidateUserIds),
    unknown_ids: JSON.stringify(d.unknownIds),
    name: d.name,
    status: 'open',
    first_run_id: runId,
    last_run_id: runId,
    created_at: at,
    updated_at: at,
  }));
  const { rows } = await REVIEW_UPSERT.run(trx, values);
  for (const r of rows) if (r.first_run_id === runId) fresh.add(r.payment_key);
  return fresh;
}

/** Whether the review queue has an open entry (the (status, paid_at) index answers). */
async function anyInReview(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('stripe_credits_review')
    .select('payment_key')
    .where('status', '=', 'open')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Whether a person ever dismissed a review entry (most ledgers: never, and then no lookups are needed). */
export async function anyDismissed(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('stripe_credits_review')
    .select('payment_key')
    .where('status', '=', 'dismissed')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Keys of these payments whose review entry a person dismissed. */
export async function findDismissed(db: Kysely<Database>, keys: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of paddedChunks(keys, LOOKUP_CHUNK)) {
    const rows = await db
      .selectFrom('stripe_credits_review')
      .select('payment_key')
      .where('payment_key', 'in', part)
      .where('status', '=', 'dismissed')
      .execute();
    for (const r of rows) out.add(r.payment_key);
  }
  return out;
}

/** The keys of a list that a table keyed by payment key holds. */
const KEYS_HELD = new Statement(
  (db, table: 'stripe_credits_review' | 'stripe_credits_payments', keys: readonly string[]) =>
    db.selectFrom(table).select('payment_key').where('payment_key', 'in', keys).compile(),
  (_table, keys) => keys,
);

/**
 * Keys of these payments that the review queue (open or dismissed) or the local record holds: one
 * indexed IN list per chunk.
 */
export async function keysHeldIn(
  db: Kysely<Database>,
  table: 'stripe_credits_review' | 'stripe_credits_payments',
  keys: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of paddedChunks(keys, LOOKUP_CHUNK)) {
    const { rows } = await KEYS_HELD.run(db, table, part);
    for (const r of rows) out.add(r.payment_key);
  }
  return out;
}

/** The local record's keys from `low` to `high` (compared as the engine compares them), `most` at most. */
const RECORDS_BETWEEN = new Statement(
  (db, low: string, high: string, most: number) =>
    db
      .selectFrom('stripe_credits_payments')
      .select('payment_key')
      .where('payment_key', '>=', low)
      .where('payment_key', '<=', high)
      .limit(most)
      .compile(),
  (low, high, most) => [low, high, most],
);

/**
 * Records a range may hold per key asked before the lists are cheaper: the keys of a short plan
 * (a cron tick's few payments) lie far apart, and the range between them holds most of a record
 * that grows with every payment ever skipped.
 */
const RANGE_READS_PER_KEY = 4;

/**
 * Keys of these payments that the local record holds. Where keys compare byte by byte
 * (Engine.bytewiseKeys), one range of its primary key, from the least to the greatest of them: the
 * writer passes a transaction's keys, consecutive in key order, so the ranges of its transactions do
 * not overlap and a write reads each record at most once, where the lists cost an index probe per
 * key. Elsewhere, or when the range holds many more records than keys (a short plan), the lists
 * (keysHeldIn).
 */
export async function recordedAmong(db: Kysely<Database>, keys: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (keys.length === 0) return out;
  if (!engineFor(db).bytewiseKeys) return keysHeldIn(db, 'stripe_credits_payments', keys);
  // JavaScript's `<` compares UTF-16 units, which sort as SQLite's UTF-8 bytes do except where a
  // surrogate meets a character from U+E000 up.
  const before = keys.some((k) => /[\uD800-\uFFFF]/.test(k))
    ? (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0
    : (a: string, b: string) => a < b;
  let low = keys[0]!;
  let high = low;
  for (const k of keys) {
    if (before(k, low)) low = k;
    if (before(high, k)) high = k;
  }
  const most = keys.length * RANGE_READS_PER_KEY;
  const { rows } = await RECORDS_BETWEEN.run(db, low, high, most + 1);
  if (rows.length > most) return keysHeldIn(db, 'stripe_credits_payments', keys);
  if (rows.length === 0) return out;
  const wanted = new Set(keys);
  for (const r of rows) if (wanted.has(r.payment_key)) out.add(r.payment_key);
  return out;
}

export async function startRun(
  db: Kysely<Database>,
  run: { mode: string; since: number; until: number; actor: string; startedAt?: string },
): Promise<number> {
  const row = await db
    .insertInto('stripe_credits_runs')
    .values({
      mode: run.mode,
      since: new Date(run.since * 1000).toISOString(),
      until: new Date(run.until * 1000).toISOString(),
      status: 'running',
      started_at: run.startedAt ?? nowIso(),
      actor: run.actor,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** What a run that ended without saying how is recorded with. */
export const ABANDONED_RUN =
  'the process ended before the run did (killed, or its machine stopped); closed by the next run to take the lock';

/**
 * Runs still recorded as running once a run holds the lock ended without a word (kill -9, a
 * machine that stopped): no other run can be going on. They are closed as interrupted, their end
 * left unknown, so that `runs` does not show them running for ever. Returns how many.
 */
export async function closeAbandonedRuns(db: Kysely<Database>): Promise<number> {
  const r = await db
    .updateTable('stripe_credits_runs')
    .set({ status: 'interrupted', error: ABANDONED_RUN })
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function finishRun(
  db: Kysely<Database>,
  runId: number,
  outcome: {
    status: 'succeeded' | 'failed' | 'refused' | 'interrupted';
    counts?: ReconcileCounts;
    creditsWritten?: number;
    error?: string;
    source?: string;
    requests?: number;
    notes?: string[];
  },
): Promise<void> {
  await db
    .updateTable('stripe_credits_runs')
    .set({
      status: outcome.status,
      finished_at: nowIso(),
      counts: outcome.counts ? JSON.stringify(outcome.counts) : null,
      credits_written: outcome.creditsWritten ?? 0,
      error: outcome.error ?? null,
      source: outcome.source ?? null,
      requests: outcome.requests ?? null,
      notes: outcome.notes && outcome.notes.length > 0 ? JSON.stringify(outcome.notes) : null,
    })
    .where('id', '=', runId)
    .execute();
}

/** A decision as a row of the local record `stripe_credits_payments`. */
export function paymentRecordRow(
  d: PaymentDecision,
  runId: number | null,
  at: string,
  /** What Stripe said of the payment (JSON), kept while it waits: pending or in review. */
  snapshot: string | null = null,
): Insertable<PaymentsTable> {
  return {
    payment_key: d.paymentKey,
    checkout_session_id: d.checkoutSession,
    payment_intent_id: d.paymentIntent,
    customer_id: d.customerId,
    emails: JSON.stringify(d.emails),
    user_id: d.userId,
    matched_by: d.matchedBy,
    status: d.status,
    reason: d.reason,
    credits: d.credits,
    amount: d.amount,
    currency: d.currency,
    livemode: d.livemode ? 1 : 0,
    paid_at: new Date(d.paidAt * 1000).toISOString(),
    first_seen_at: at,
    last_seen_at: at,
    last_run_id: runId,
    snapshot: d.status === 'pending' || d.status === 'needs_review' ? snapshot : null,
  };
}

/** The local record, brought up to date: what a decision knows replaces what the record says. */
const RECORD_UPSERT = new RowsInsert((db, rows: readonly Insertable<PaymentsTable>[]) =>
  db
    .insertInto('stripe_credits_payments')
    .values(rows)
    .onConflict((oc) =>
      oc.column('payment_key').doUpdateSet((eb) => ({
        checkout_session_id: eb.ref('excluded.checkout_session_id'),
        payment_intent_id: eb.ref('excluded.payment_intent_id'),
        customer_id: eb.ref('excluded.customer_id'),
        emails: eb.ref('excluded.emails'),
        // An already_credited decision knows no user: keep the one recorded when it was credited.
        user_id: eb.fn.coalesce('excluded.user_id', 'stripe_credits_payments.user_id'),
        matched_by: eb.fn.coalesce('excluded.matched_by', 'stripe_credits_payments.matched_by'),
        credits: eb.fn.coalesce('excluded.credits', 'stripe_credits_payments.credits'),
        status: eb.ref('excluded.status'),
        reason: eb.ref('excluded.reason'),
        amount: eb.ref('excluded.amount'),
        paid_at: eb.ref('excluded.paid_at'),
        last_seen_at: eb.ref('excluded.last_seen_at'),
        last_run_id: eb.ref('excluded.last_run_id'),
        snapshot: eb.ref('excluded.snapshot'),
      })),
    )
    .compile(),
);

/**
 * Keeps the local record of decided payments up to date (one upsert per batch). `lookup` reads it
 * to find a user's payments, which Stripe cannot list by user id, and every run re-reads the
 * pending and in-review ones (paymentsToRecheck).
 *
 * A payment credited (now or before) is on record in the ledger: its entry says who has it, how
 * many credits, how it was matched, by which run, and `lookup` finds it there by user. So it gets
 * a record only when it has one already (it was pending, in review, or recorded before this rule),
 * which is brought up to date; the others are not written twice (a record costs as much to write
 * as the entry itself).
 */
export async function recordDecisions(
  trx: Kysely<Database>,
  all: readonly PaymentDecision[],
  runId: number | null,
  /** Keys the caller found in the record already (in this transaction): not asked again. */
  known: ReadonlySet<string> = new Set(),
  /** By payment key, what Stripe said of the payments left pending or in review (Planner.snapshots). */
  snapshots: ReadonlyMap<string, string> = new Map(),
): Promise<void> {
  const onLedger = (d: PaymentDecision) => d.status === 'credited' || d.status === 'already_credited';
  const ask = all.filter((d) => onLedger(d) && !known.has(d.paymentKey)).map((d) => d.paymentKey);
  const recorded = ask.length > 0 ? await keysHeldIn(trx, 'stripe_credits_payments', ask) : new Set<string>();
  const decisions = all.filter((d) => !onLedger(d) || known.has(d.paymentKey) || recorded.has(d.paymentKey));
  if (decisions.length === 0) return;
  const at = nowIso();
  const values = decisions.map((d) => paymentRecordRow(d, runId, at, snapshots.get(d.paymentKey) ?? null));
  await RECORD_UPSERT.run(trx, values);
}

/** A payment a run left pending or in review: the id to re-read it by, and what Stripe said of it then. */
export interface RecheckRecord {
  /** Its session when it has one (that one request carries both), else its payment key. */
  id: string;
  paymentKey: string;
  /** The Payment as JSON (migration 0013), NO_LONGER_A_PAYMENT, or null on a record written before. */
  snapshot: string | null;
}

/**
 * The snapshot of a waiting record that a run re-read and found no payment (a debit that failed,
 * an object deleted): neither decided again nor re-read until an event or a window run reads it.
 */
export const NO_LONGER_A_PAYMENT = '"no longer a payment"';

/** Records left pending or in review whose payment Stripe now says is none (read by these ids). */
export async function markNoLongerPayments(db: Kysely<Database>, ids: readonly string[]): Promise<void> {
  for (const part of chunks(ids, WRITE_BATCH)) {
    await db
      .updateTable('stripe_credits_payments')
      .set({ snapshot: NO_LONGER_A_PAYMENT })
      .where('status', 'in', ['pending', 'needs_review'])
      .where((eb) => eb.or([eb('payment_key', 'in', part), eb('checkout_session_id', 'in', part)]))
      .execute();
  }
}

/**
 * Payments a run left pending or in review, paid since `paidSince` and not dismissed: a run
 * decides them again, so a settlement, or a user created later, gets credited without a window
 * that reaches back to them.
 */
export async function paymentsToRecheck(db: Kysely<Database>, paidSince: string): Promise<RecheckRecord[]> {
  const rows = await db
    .selectFrom('stripe_credits_payments')
    .select(['checkout_session_id', 'payment_intent_id', 'payment_key', 'snapshot'])
    .where('status', 'in', ['pending', 'needs_review'])
    .where('paid_at', '>=', paidSince)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('stripe_credits_review as r')
            .select('r.payment_key')
            .whereRef('r.payment_key', '=', 'stripe_credits_payments.payment_key')
            .where('r.status', '=', 'dismissed'),
        ),
      ),
    )
    .execute();
  return rows.map((r) => ({
    id: r.checkout_session_id ?? r.payment_intent_id ?? r.payment_key,
    paymentKey: r.payment_key,
    snapshot: r.snapshot,
  }));
}

/**
 * The Checkout Session of each of these PaymentIntents that the tool credited or recorded with
 * one: an event naming a PaymentIntent (a refund's charge) is then read by its session, which
 * brings the PaymentIntent along in one request instead of two.
 */
export async function sessionsOfIntents(db: Kysely<Database>, piIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const part of chunks(piIds, WRITE_BATCH)) {
    const credited = await db
      .selectFrom('credit_ledger')
      .select(['payment_key', 'checkout_session_id'])
      .where('kind', '=', 'purchase')
      .where('payment_key', 'in', part)
      .execute();
    const recorded = await db
      .selectFrom('stripe_credits_payments')
      .select(['payment_key', 'checkout_session_id'])
      .where('payment_key', 'in', part)
      .execute();
    for (const r of [...credited, ...recorded])
      if (r.payment_key && r.checkout_session_id) out.set(r.payment_key, r.checkout_session_id);
  }
  return out;
}

/**
 * Of these PaymentIntents, the payments earlier runs skipped as fully refunded (a session's by its
 * session id): a refund that fails or is canceled makes such a payment creditable again.
 */
export async function skippedAsRefunded(db: Kysely<Database>, paymentIntents: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const part of chunks(paymentIntents, 500)) {
    const rows = await db
      .selectFrom('stripe_credits_payments')
      .select(['checkout_session_id', 'payment_intent_id', 'payment_key'])
      .where('status', '=', 'skipped')
      .where('reason', '=', 'refunded')
      // As the partial index of migration 0006 serves it: the tool keys a payment by its PaymentIntent id.
      .where((eb) => eb.or([eb('payment_key', 'in', part), inPartialIndex('payment_intent_id', part, INTENT_NOT_KEY)]))
      .execute();
    out.push(...rows.map((r) => r.checkout_session_id ?? r.payment_intent_id ?? r.payment_key));
  }
  return out;
}

/** The most recent runs, newest first. */
export async function listRuns(db: Kysely<Database>, limit: number) {
  return db.selectFrom('stripe_credits_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
}
