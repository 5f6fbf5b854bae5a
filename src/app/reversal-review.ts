import type { Kysely } from 'kysely';
import { AttentionError, UsageError } from '../errors.js';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../ledger/db.js';
import { writeTransaction } from '../ledger/engine.js';
import { verifyAppTables } from '../ledger/app-ledger.js';
import { dismissReviewEntry, existingTables, openReviewEntries, reversalReviewEntry } from '../ledger/corrections.js';
import { insertReversals, readReversalState, type HeldPurchase } from '../ledger/reversals.js';
import type { Database, ReviewRow } from '../ledger/schema.js';
import type { ReversalDecision } from '../reconcile/types.js';
import {
  openForReading,
  planReadOnly,
  reviewItemsIn,
  reviewState,
  type ReviewItem,
  type SupportOptions,
} from './corrections.js';

/**
 * The review queue's refunds and disputes (SPEC "Reversals", policy `review`): a credited payment
 * refunded or disputed waits here, keyed by the refund or dispute id, until a person reverses it
 * (`review reverse`: the reversal entry, with that person as actor) or dismisses it (`review
 * dismiss`: no entry; later runs never reverse it). Neither calls Stripe: the entry holds the
 * payment, the user and the credits at stake as the run decided them.
 */

/** A refund id (`re_…`, `pyr_…`) or a dispute id (`dp_…`, `du_…`). */
export function isReversalId(id: string): boolean {
  return /^(re|pyr|dp|du)_[A-Za-z0-9]+$/.test(id);
}

export interface ReversalReviewItem {
  /** The refund or dispute id. */
  id: string;
  source: 'refund' | 'dispute';
  /** The payment it takes from. */
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  reason: string;
  userId: string | null;
  /** The credits at stake (negative: what a reversal takes). */
  credits: number;
  /** What the payment paid. */
  amount: number | null;
  currency: string | null;
  livemode: boolean;
  /** When the refund or dispute was created. */
  occurredAt: string;
  status: string;
  queuedAt: string;
  updatedAt: string;
  firstRunId: number | null;
  lastRunId: number | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}

const num = (v: number | null) => (v === null ? null : Number(v));

export function toReversalReviewItem(r: ReviewRow): ReversalReviewItem {
  return {
    id: r.payment_key,
    source: r.source === 'dispute' ? 'dispute' : 'refund',
    paymentKey: r.reversal_of ?? r.payment_intent_id ?? r.checkout_session_id ?? '',
    checkoutSession: r.checkout_session_id,
    paymentIntent: r.payment_intent_id,
    reason: r.reason,
    userId: r.user_id,
    credits: Number(r.credits ?? 0),
    amount: num(r.amount),
    currency: r.currency,
    livemode: Number(r.livemode) === 1,
    occurredAt: r.paid_at,
    ...reviewState(r),
  };
}

/**
 * The open review queue, read-only on one connection: its payments (reviewItemsIn) and, after them,
 * its refunds and disputes, oldest first.
 */
export async function listReviewQueue(
  o: SupportOptions,
): Promise<{ payments: ReviewItem[]; reversals: ReversalReviewItem[] }> {
  const open = await openForReading(o);
  try {
    await verifyAppTables(open.db, o.settings.config);
    if (!(await existingTables(open.db)).has('stripe_credits_review')) return { payments: [], reversals: [] };
    const payments = await reviewItemsIn(open, o);
    const reversals = (await openReviewEntries(open.db, { reversals: true })).map(toReversalReviewItem);
    return { payments, reversals };
  } finally {
    await open.close();
  }
}

function openForWriting(o: SupportOptions): Promise<OpenDb> {
  return openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: false });
}

/** The entry of `id`, or a usage error (exit 2) when the queue never held it. */
async function entryOrFail(db: Kysely<Database>, id: string): Promise<ReviewRow> {
  const row = await reversalReviewEntry(db, id);
  if (!row) throw notInQueue(id);
  return row;
}

function notInQueue(id: string): UsageError {
  return new UsageError(
    `${id} is not in the review queue`,
    'see the open refunds and disputes with: stripe-credits review',
  );
}

/** An entry no longer open: exit 3, one line naming what became of it and who did it. */
function notOpen(row: ReviewRow): AttentionError {
  const what = row.status === 'dismissed' ? 'was dismissed' : `is closed already (${row.resolution ?? row.status})`;
  const who = row.resolved_by ? ` by ${row.resolved_by} on ${row.resolved_at?.slice(0, 10) ?? '?'}` : '';
  const said = row.status === 'dismissed' && row.resolution ? `: ${row.resolution}` : '';
  return new AttentionError(
    `${row.payment_key} ${what}${who}${said}: nothing written`,
    `see the user's entries with: stripe-credits balance ${row.user_id ?? 'USER'}`,
  );
}

export interface ReversalDismissResult {
  outcome: 'dismissed' | 'unchanged';
  item: ReversalReviewItem;
}

/** Closes a refund's or dispute's entry without reversing it; who and why are kept, and no run reverses it later. */
export async function dismissReversalReview(
  o: SupportOptions & { id: string; reason: string; actor: string },
): Promise<ReversalDismissResult> {
  const open = await openForWriting(o);
  try {
    await migrateToLatest(open.db);
    const before = await entryOrFail(open.db, o.id);
    if (before.status === 'open' && (await dismissReviewEntry(open.db, o.id, o.actor, o.reason)))
      return { outcome: 'dismissed', item: toReversalReviewItem((await reversalReviewEntry(open.db, o.id))!) };
    const now = (await reversalReviewEntry(open.db, o.id))!;
    if (now.status === 'dismissed') return { outcome: 'unchanged', item: toReversalReviewItem(now) };
    throw notOpen(now);
  } finally {
    await open.close();
  }
}

export interface ReversalReverseResult {
  item: ReversalReviewItem;
  /** The user whose credits were taken, and their balance after. */
  userId: string;
  credits: number;
}

/** What a reversal of a review entry would write: the entry, the purchase it takes from now, the decision. */
export interface ReversePlan {
  row: ReviewRow;
  purchase: HeldPurchase;
  decision: ReversalDecision;
}

/**
 * Plans `review reverse` with every check its write makes (the app's tables, the entry open, the
 * purchase still held, by whom now), on a database already open, read-only or not: throws the
 * refusal the write would throw. The CLI writes it at once; the console shows it first.
 */
export async function planReverse(open: OpenDb, o: SupportOptions & { id: string }): Promise<ReversePlan> {
  await verifyAppTables(open.db, o.settings.config);
  if (!(await existingTables(open.db)).has('stripe_credits_review')) throw notInQueue(o.id);
  const row = await entryOrFail(open.db, o.id);
  if (row.status !== 'open') throw notOpen(row);
  const purchase = await purchaseOf(open.db, row, o);
  const decision: ReversalDecision = {
    id: row.payment_key,
    source: row.source === 'dispute' ? 'dispute' : 'refund',
    paymentKey: purchase.paymentKey,
    userId: purchase.userId,
    credits: Number(row.credits ?? 0),
    status: 'reversed',
    reason: null,
    kind: 'reversal',
  };
  return { row, purchase, decision };
}

/** planReverse on a read-only connection: what the console's preview of a reversal shows. */
export function previewReverse(o: SupportOptions & { id: string }): Promise<ReversePlan> {
  return planReadOnly(o, (open) => planReverse(open, o));
}

/**
 * A person reverses a refund or dispute waiting in review: the `reversal` entry (the credits the
 * entry holds at stake, from the user who holds the payment's purchase now) with the person as
 * actor and their reason, and the entry closed, in one transaction. An entry dismissed or closed
 * already, or a reversal written meanwhile (a run under `debit`, another person), is refused with
 * nothing written. `beforeWrite` may refuse the plan (the console's per-role limit).
 */
export async function reverseReview(
  o: SupportOptions & { id: string; reason: string; actor: string },
  beforeWrite: (plan: ReversePlan) => void = () => {},
): Promise<ReversalReverseResult> {
  const open = await openForWriting(o);
  try {
    await verifyAppTables(open.db, o.settings.config);
    await migrateToLatest(open.db);
    const plan = await planReverse(open, o);
    beforeWrite(plan);
    return await writeReverse(open, o, plan);
  } finally {
    await open.close();
  }
}

/** Writes a plan of planReverse; the reversal's unique key refuses one written since the plan was made. */
async function writeReverse(
  open: OpenDb,
  o: SupportOptions & { id: string; reason: string; actor: string },
  { decision, purchase }: ReversePlan,
): Promise<ReversalReverseResult> {
  const out = await writeTransaction(open.db, (trx) =>
    insertReversals(trx, [{ decision, purchase }], {
      runId: null,
      actor: o.actor,
      reason: o.reason,
      adoption: o.settings.config,
    }),
  );
  const after = (await reversalReviewEntry(open.db, o.id))!;
  if (out.written.length === 0) {
    throw new AttentionError(
      `${o.id} was reversed already (by someone else meanwhile): nothing written`,
      `see the user's entries with: stripe-credits balance ${purchase.userId}`,
    );
  }
  return { item: toReversalReviewItem(after), userId: purchase.userId, credits: decision.credits };
}

/** The purchase the entry takes from, as the ledger holds it now (its holder after a reassignment). */
async function purchaseOf(db: Kysely<Database>, row: ReviewRow, o: SupportOptions): Promise<HeldPurchase> {
  const purchase = await heldPurchase(db, row, o);
  if (!purchase)
    throw new AttentionError(
      `${row.payment_key}: the ledger no longer holds a purchase of ${paymentKeyOf(row)}: nothing written`,
      `see what is known with: stripe-credits lookup ${paymentKeyOf(row)}`,
    );
  return purchase;
}

const paymentKeyOf = (row: ReviewRow) => row.reversal_of ?? row.payment_intent_id ?? row.checkout_session_id ?? '';

/** The purchase an entry's refund or dispute is of, as the ledger holds it now; undefined when it holds none. */
async function heldPurchase(
  db: Kysely<Database>,
  row: ReviewRow,
  o: SupportOptions,
): Promise<HeldPurchase | undefined> {
  const paymentKey = paymentKeyOf(row);
  const state = await readReversalState(
    db,
    [
      {
        paymentKey,
        checkoutSession: row.checkout_session_id,
        paymentIntent: row.payment_intent_id,
        reversalIds: [row.payment_key],
      },
    ],
    o.settings.config.ledger,
  );
  return state.purchases.get(paymentKey);
}

/**
 * What dismissing an open refund's or dispute's entry leaves as it is, read-only: the entry, with
 * the user who holds the payment now (after a reassignment) as the one who keeps the credits.
 */
export function previewDismissReversal(o: SupportOptions & { id: string }): Promise<ReversalReviewItem> {
  return planReadOnly(o, async (open) => {
    if (!(await existingTables(open.db)).has('stripe_credits_review')) throw notInQueue(o.id);
    const row = await entryOrFail(open.db, o.id);
    if (row.status !== 'open') throw notOpen(row);
    const held = await heldPurchase(open.db, row, o);
    return { ...toReversalReviewItem(row), userId: held?.userId ?? row.user_id };
  });
}
