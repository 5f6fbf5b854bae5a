import { sql, type Insertable, type Kysely } from 'kysely';
import type { LedgerMapping } from '../config.js';
import type { ReversalDecision, WrittenReversal } from '../reconcile/types.js';
import { idAsRead, engineFor } from './engine.js';
import { insertAppCredits, lockPaymentKeys, moveBalances } from './app-ledger.js';
import { chunks } from './chunks.js';
import { paymentHolding } from './corrections.js';
import { nowIso, sessionNotKey, WRITE_BATCH, type Adoption } from './ledger.js';
import { tableRef } from './introspect.js';
import type { Database, LedgerRow, NewLedgerRow } from './schema.js';

/**
 * The ledger side of SPEC "Reversals": what the ledger holds for refunded and disputed payments
 * (their purchase, the `reversal` and `reinstatement` entries already written, the review entries
 * a person dismissed), the writes of those entries, and the review entries of the ones that wait
 * for a person. The pure core (src/reconcile/reversals.ts) decides between the reading and the
 * writing.
 *
 * A reversal or reinstatement is an entry of `credit_ledger` keyed by the refund or dispute id
 * (`re_…`, `dp_…`): the unique (kind, payment_key) constraint makes each exactly once, whoever
 * writes it (a run, the webhook library, a person through `review reverse`). With a mapped ledger
 * the tool's row stays the record and the guard, and the app's table gets a row in its shape in the
 * same transaction, with `setManual`'s constants (it is not a purchase); see insertReversals.
 */

/** Ids per lookup query. */
const CHUNK = 500;

/** A payment whose refunds and disputes are to be decided: its ids, and those of its refunds and disputes. */
export interface ReversalLookup {
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  /** The payment's refund and dispute ids (`re_…`, `dp_…`). */
  reversalIds: readonly string[];
  /** What Stripe says was paid, and the mode: used where the ledger does not say (an app's own row). */
  amount?: number | null;
  currency?: string | null;
  livemode?: boolean;
}

/** The credited purchase of a payment, as a reversal needs it: who holds the credits, how many, what was paid. */
export interface HeldPurchase {
  paymentKey: string;
  /** The user who holds the credits now (after a reassignment, the new one). */
  userId: string;
  credits: number;
  checkoutSession: string | null;
  paymentIntent: string | null;
  /** What was paid, minor units, when the ledger knows it (an app's own table does not say). */
  amount: number | null;
  currency: string | null;
  livemode: boolean;
}

export interface ReversalLedgerState {
  /** By payment key; a payment with no purchase entry (never credited) is absent. */
  purchases: Map<string, HeldPurchase>;
  /** The `reversal` and `reinstatement` entries, by payment key (the PaymentReversalInput's `written`). */
  written: Map<string, WrittenReversal[]>;
  /** Refund and dispute ids whose review entry a person dismissed (decideReversals' `isDismissed`). */
  dismissed: Set<string>;
}

/**
 * What the ledger holds for these payments. Purchases: the tool's own entry (under the payment
 * key, or naming the payment's session), held by the user a reassignment moved it to if any; with
 * a mapped ledger, for a payment the tool never wrote, the app's own row that names its
 * PaymentIntent id (else its session id). `toolTables: false` (a dry run before the first
 * migration): only the app's table is read.
 */
export async function readReversalState(
  db: Kysely<Database>,
  payments: readonly ReversalLookup[],
  mapped: LedgerMapping | null,
  opts: { toolTables?: boolean } = {},
): Promise<ReversalLedgerState> {
  const state: ReversalLedgerState = { purchases: new Map(), written: new Map(), dismissed: new Set() };
  const toolTables = opts.toolTables ?? true;
  for (const part of chunks(payments, CHUNK)) {
    if (toolTables) await readOwnPurchases(db, part, state.purchases);
    if (mapped) await readAppPurchases(db, mapped, part, state.purchases);
    if (!toolTables) continue;
    const owner = new Map(part.flatMap((p) => p.reversalIds.map((id) => [id, p.paymentKey] as const)));
    for (const ids of chunks([...owner.keys()], CHUNK)) {
      for (const w of await writtenReversals(db, ids)) {
        const key = owner.get(w.id)!;
        state.written.set(key, [...(state.written.get(key) ?? []), w]);
      }
      for (const id of await dismissedReversals(db, ids)) state.dismissed.add(id);
    }
  }
  return state;
}

/** The tool's purchases of these payments, and each one's reassignments (who holds the credits now). */
async function readOwnPurchases(
  db: Kysely<Database>,
  part: readonly ReversalLookup[],
  out: Map<string, HeldPurchase>,
): Promise<void> {
  const keys = part.map((p) => p.paymentKey);
  const sessions = part.flatMap((p) => (p.checkoutSession ? [p.checkoutSession] : []));
  const purchases = await db
    .selectFrom('credit_ledger')
    .selectAll()
    .where('kind', '=', 'purchase')
    .where((eb) =>
      sessions.length > 0
        ? eb.or([eb('payment_key', 'in', keys), sessionNotKey(sessions)])
        : eb('payment_key', 'in', keys),
    )
    .execute();
  if (purchases.length === 0) return;
  // Reassignments are written under the purchase's own payment key (reassignKinds).
  const purchaseKeys = [...new Set(purchases.map((r) => r.payment_key!))];
  const all = await db.selectFrom('credit_ledger').selectAll().where('payment_key', 'in', purchaseKeys).execute();
  // Grouped once, so that each payment's rows are looked up rather than searched for in the chunk.
  const byKey = groupBy(purchases, (r) => r.payment_key);
  const bySession = groupBy(purchases, (r) => r.checkout_session_id);
  const allByKey = groupBy(all, (r) => r.payment_key);
  for (const p of part) {
    const mine = new Set([
      ...(byKey.get(p.paymentKey) ?? []),
      ...(p.checkoutSession !== null ? (bySession.get(p.checkoutSession) ?? []) : []),
    ]);
    if (mine.size === 0) continue;
    const first = [...mine].reduce((a, b) => (Number(b.id) < Number(a.id) ? b : a));
    const entries = allByKey.get(first.payment_key!) ?? [];
    const holding = paymentHolding(entries)!;
    out.set(p.paymentKey, heldOf(p.paymentKey, holding.purchase, holding.holderUserId, correctedBy(entries)));
  }
}

function groupBy(rows: readonly LedgerRow[], key: (r: LedgerRow) => string | null): Map<string, LedgerRow[]> {
  const out = new Map<string, LedgerRow[]>();
  for (const r of rows) {
    const k = key(r);
    if (k === null) continue;
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/**
 * What `audit resolve --reverse` took back of the purchase (its `correction`, under the purchase's
 * payment key): those credits are gone already, so no refund or dispute may take them again.
 */
function correctedBy(entries: readonly LedgerRow[]): number {
  return entries.filter((r) => r.kind === 'correction').reduce((sum, r) => sum + Number(r.credits), 0);
}

function heldOf(paymentKey: string, r: LedgerRow, userId: string, corrected = 0): HeldPurchase {
  return {
    paymentKey,
    userId,
    credits: Math.max(0, Number(r.credits) + corrected),
    checkoutSession: r.checkout_session_id,
    paymentIntent: r.payment_intent_id,
    amount: r.amount === null ? null : Number(r.amount),
    currency: r.currency,
    livemode: Number(r.livemode) === 1,
  };
}

/** Payments the app's own table credits and the tool's ledger does not: the row by PaymentIntent id, else by session id. */
async function readAppPurchases(
  db: Kysely<Database>,
  m: LedgerMapping,
  part: readonly ReversalLookup[],
  out: Map<string, HeldPurchase>,
): Promise<void> {
  const todo = part.filter((p) => !out.has(p.paymentKey));
  const ids = [...new Set(todo.flatMap((p) => [p.paymentIntent, p.checkoutSession, p.paymentKey]))].filter(
    (x): x is string => x !== null,
  );
  if (ids.length === 0) return;
  const engine = engineFor(db);
  const ref = sql.ref(m.columns.paymentRef);
  const r = await sql<{
    user_id: string | number;
    credits: number | string;
    ref: string;
  }>`SELECT ${idAsRead(db, sql.ref(m.columns.userId))} AS user_id, ${sql.ref(m.columns.credits)} AS credits, ${engine.asText(ref)} AS ref FROM ${tableRef(m.schema, m.table)} WHERE ${ref} IN (${sql.join(ids)})`.execute(
    db,
  );
  const byRef = new Map(r.rows.map((row) => [String(row.ref), row]));
  for (const p of todo) {
    const row = [p.paymentIntent, p.paymentKey, p.checkoutSession].flatMap((id) => (id && byRef.get(id)) || [])[0];
    if (!row) continue;
    out.set(p.paymentKey, {
      paymentKey: p.paymentKey,
      userId: String(row.user_id),
      credits: Number(row.credits),
      checkoutSession: p.checkoutSession,
      paymentIntent: p.paymentIntent,
      amount: p.amount ?? null,
      currency: p.currency ?? null,
      livemode: p.livemode ?? false,
    });
  }
}

async function writtenReversals(db: Kysely<Database>, ids: readonly string[]): Promise<WrittenReversal[]> {
  const rows = await db
    .selectFrom('credit_ledger')
    .select(['kind', 'payment_key', 'credits'])
    .where('payment_key', 'in', ids)
    .where('kind', 'in', ['reversal', 'reinstatement'])
    .execute();
  return rows.map((r) => ({
    kind: r.kind as WrittenReversal['kind'],
    id: r.payment_key!,
    credits: Number(r.credits),
  }));
}

async function dismissedReversals(db: Kysely<Database>, ids: readonly string[]): Promise<string[]> {
  const rows = await db
    .selectFrom('stripe_credits_review')
    .select('payment_key')
    .where('payment_key', 'in', ids)
    .where('status', '=', 'dismissed')
    .execute();
  return rows.map((r) => r.payment_key);
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A decision to write, with the purchase it takes from (readReversalState's). */
export interface ReversalToWrite {
  decision: ReversalDecision;
  purchase: HeldPurchase;
  /** When the refund or dispute was created (unix seconds): a review entry's time. */
  occurredAt?: number;
}

export interface ReversalWriteOptions {
  runId: number | null;
  /** The run's actor, or the person who reverses (`review reverse`). */
  actor: string;
  reason: string | null;
  adoption: Adoption;
}

/** What insertReversals did: the ids it wrote, and those another writer had written already (→ `already_reversed`). */
export interface ReversalWriteOutcome {
  written: string[];
  alreadyThere: string[];
}

const entryKey = (kind: string, id: string) => `${kind}:${id}`;

/**
 * Writes the `reversed` and `reinstated` decisions (others are left out): an entry of kind
 * `reversal` (negative credits) or `reinstatement` (positive) under the refund or dispute id, for
 * the user who holds the purchase. Must run inside a write transaction (writeTransaction). The ids
 * are locked first (Engine.lockPaymentKeys: Postgres; SQLite holds the write lock), and the unique
 * (kind, payment_key) constraint decides: an entry another writer wrote first is reported in
 * `alreadyThere` and nothing else is written for it.
 *
 * With a mapped ledger each written entry also becomes a row of the app's table, with `setManual`'s
 * constants (as a manual adjustment: it is not a purchase); its reference is the refund or dispute
 * id for a reversal, and none for a reinstatement (an app's unique index on the reference allows one
 * row per id, which the reversal holds; the tool's entry keeps the link). With `balance` the column
 * moves by the same credits; it may go below zero. An open review entry of a written id is closed.
 */
export async function insertReversals(
  trx: Kysely<Database>,
  items: readonly ReversalToWrite[],
  opts: ReversalWriteOptions,
): Promise<ReversalWriteOutcome> {
  const todo = items.filter((i) => i.decision.status === 'reversed' || i.decision.status === 'reinstated');
  const outcome: ReversalWriteOutcome = { written: [], alreadyThere: [] };
  if (todo.length === 0) return outcome;
  await lockPaymentKeys(
    trx,
    todo.map((i) => i.decision.id),
  );
  const at = nowIso();
  const inserted = new Set<string>();
  const engine = engineFor(trx);
  // Statements of WRITE_BATCH rows: SQLite binds at most 32766 values in one.
  for (const rows of engine.statementParts(
    todo.map((i) => reversalRow(i, opts, at)),
    WRITE_BATCH,
  )) {
    const keys = await engine.insertReportingKeys(trx, rows, {
      counted: async (r) => (await reversalInsert(trx, r).executeTakeFirst()).numInsertedOrUpdatedRows ?? 0n,
      returning: async (r) =>
        (await reversalInsert(trx, r).returning(['kind', 'payment_key']).execute()).map((x) =>
          entryKey(x.kind, x.payment_key!),
        ),
      keyOf: (row) => entryKey(row.kind, row.payment_key!),
    });
    for (const k of keys) inserted.add(k);
  }
  const written = todo.filter((i) => inserted.has(entryKey(i.decision.kind, i.decision.id)));
  for (const i of todo) (written.includes(i) ? outcome.written : outcome.alreadyThere).push(i.decision.id);
  await mirrorInApp(trx, written, opts.adoption, at);
  await closeReviewEntries(trx, outcome.written, opts, at);
  return outcome;
}

function reversalRow(i: ReversalToWrite, opts: ReversalWriteOptions, at: string): NewLedgerRow {
  const { decision: d, purchase: p } = i;
  return {
    user_id: p.userId,
    credits: d.credits,
    kind: d.kind,
    payment_key: d.id,
    checkout_session_id: p.checkoutSession,
    payment_intent_id: p.paymentIntent,
    amount: p.amount,
    currency: p.currency,
    livemode: p.livemode ? 1 : 0,
    actor: opts.actor,
    reason: opts.reason,
    run_id: opts.runId,
    created_at: at,
  };
}

function reversalInsert(db: Kysely<Database>, rows: readonly NewLedgerRow[]) {
  return db
    .insertInto('credit_ledger')
    .values(rows)
    .onConflict((oc) => oc.columns(['kind', 'payment_key']).doNothing());
}

/** The written entries in the app's own table and balance column (see insertReversals). */
async function mirrorInApp(
  trx: Kysely<Database>,
  written: readonly ReversalToWrite[],
  adoption: Adoption,
  at: string,
): Promise<void> {
  if (written.length === 0) return;
  const credits = written.map((i) => ({
    userId: i.purchase.userId,
    credits: i.decision.credits,
    ref: i.decision.kind === 'reversal' ? i.decision.id : null,
  }));
  if (adoption.ledger) await insertAppCredits(trx, adoption.ledger, credits, 'manual', new Date(at));
  if (adoption.balance) await moveBalances(trx, adoption.balance, credits);
}

/** Open review entries of ids just written are resolved: the entry now says what became of them. */
async function closeReviewEntries(
  trx: Kysely<Database>,
  ids: readonly string[],
  opts: ReversalWriteOptions,
  at: string,
): Promise<void> {
  if (ids.length === 0) return;
  const by = opts.runId !== null ? `reversed by run ${opts.runId}` : 'reversed';
  for (const part of chunks(ids, CHUNK)) {
    await trx
      .updateTable('stripe_credits_review')
      .set({
        status: 'resolved',
        resolved_at: at,
        resolved_by: opts.actor,
        resolution: opts.reason ? `${by}: ${opts.reason}` : by,
        updated_at: at,
      })
      .where('payment_key', 'in', part)
      .where('status', '=', 'open')
      .execute();
  }
}

// ---------------------------------------------------------------------------------------------
// The review queue

type ReviewInsert = Insertable<Database['stripe_credits_review']>;

/**
 * Puts `needs_review` decisions in the review queue, keyed by the refund or dispute id, with the
 * payment, the user and the credits at stake. An id already queued keeps its place and status (a
 * dismissed one stays dismissed); the user and credits are brought up to date. Returns the ids new
 * to the queue in this call. `paid_at` holds when the refund or dispute was created.
 */
export async function upsertReversalReview(
  trx: Kysely<Database>,
  items: readonly ReversalToWrite[],
  runId: number | null,
): Promise<Set<string>> {
  const fresh = new Set<string>();
  const todo = items.filter((i) => i.decision.status === 'needs_review');
  if (todo.length === 0) return fresh;
  const at = nowIso();
  const rows = todo.map((i): ReviewInsert => reviewRow(i, runId, at));
  for (const part of engineFor(trx).statementParts(rows, 200)) {
    const out = await trx
      .insertInto('stripe_credits_review')
      .values(part)
      .onConflict((oc) =>
        oc.column('payment_key').doUpdateSet((eb) => ({
          reason: eb.ref('excluded.reason'),
          user_id: eb.ref('excluded.user_id'),
          credits: eb.ref('excluded.credits'),
          last_run_id: eb.ref('excluded.last_run_id'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .returning(['payment_key', 'created_at'])
      .execute();
    for (const r of out) if (r.created_at === at) fresh.add(r.payment_key);
  }
  return fresh;
}

function reviewRow(i: ReversalToWrite, runId: number | null, at: string): ReviewInsert {
  const { decision: d, purchase: p } = i;
  return {
    payment_key: d.id,
    checkout_session_id: p.checkoutSession,
    payment_intent_id: p.paymentIntent,
    reason: d.reason ?? (d.source === 'refund' ? 'refunded_after_credit' : 'disputed_after_credit'),
    detail: null,
    amount: p.amount,
    currency: p.currency,
    livemode: p.livemode ? 1 : 0,
    paid_at: i.occurredAt !== undefined ? new Date(i.occurredAt * 1000).toISOString() : at,
    emails: '[]',
    candidate_user_ids: '[]',
    unknown_ids: '[]',
    name: null,
    status: 'open',
    first_run_id: runId,
    last_run_id: runId,
    created_at: at,
    updated_at: at,
    source: d.source,
    reversal_of: d.paymentKey,
    user_id: d.userId ?? p.userId,
    credits: d.credits,
  };
}
