import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.js';
import { writeTransaction } from '../ledger/engine.js';
import { chunks } from '../ledger/chunks.js';
import {
  insertReversals,
  readReversalState,
  upsertReversalReview,
  type HeldPurchase,
  type ReversalLedgerState,
  type ReversalLookup,
  type ReversalToWrite,
} from '../ledger/reversals.js';
import type { Database } from '../ledger/schema.js';
import { decideReversals } from '../reconcile/reversals.js';
import type { ReversalDecision } from '../reconcile/types.js';
import { reversalsOf, type IntentRef, type PaymentReversals, type SweptReversals } from '../stripe/fetch-reversals.js';
import { mapLimit, type Progress, type StripeReader } from '../stripe/reader.js';
import { killPoint } from './kill-point.js';

/**
 * SPEC "Reversals" as one use case, shared by reconcile and the webhook library: for a set of
 * PaymentIntents, what the ledger holds, the refunds and disputes Stripe has, the decisions, and
 * (apply) the reversal and reinstatement entries and review entries written. Only PaymentIntents
 * the ledger credited cost requests: a never-credited one is decided from what the sweep saw.
 */

export interface ReversalRunOptions {
  db: Kysely<Database>;
  reader: StripeReader;
  config: AppConfig;
  dryRun: boolean;
  /** Whether the tool's tables exist (false: a dry run before the first migration). */
  toolTables: boolean;
  runId: number | null;
  actor: string;
  /** The window's lists of refunds and disputes, when the caller swept them. */
  swept?: SweptReversals;
  progress?: Progress;
}

export interface ReversalOutcome {
  /** One per refund or dispute of the PaymentIntents, payment by payment. */
  decisions: ReversalDecision[];
  /** Refund and dispute ids this call put in the review queue for the first time (dry run: would put). */
  newInReview: string[];
}

/** PaymentIntents per read-decide-write transaction. */
const BATCH = 200;

const lookupOf = (pi: string, reversalIds: readonly string[] = []): ReversalLookup => ({
  paymentKey: pi,
  checkoutSession: null,
  paymentIntent: pi,
  reversalIds,
});

/** Decides (and, applying, writes) the refunds and disputes of these PaymentIntents. */
export async function settleReversals(intents: readonly IntentRef[], o: ReversalRunOptions): Promise<ReversalOutcome> {
  const unique = [...new Map(intents.map((i) => [i.id, i])).values()];
  const out: ReversalOutcome = { decisions: [], newInReview: [] };
  if (unique.length === 0) return out;
  const credited = await readReversalState(
    o.db,
    unique.map((i) => lookupOf(i.id)),
    o.config.ledger,
    { toolTables: o.toolTables },
  );
  const fetched = await reversalsOf(
    o.reader,
    unique.filter((i) => credited.purchases.has(i.id)),
    { swept: o.swept, progress: o.progress },
  );
  const paid = await amountsPaid(o.reader, [...credited.purchases.values()]);
  for (const part of chunks(unique, BATCH)) {
    const lists = new Map(part.map((i) => [i.id, fetched.get(i.id) ?? o.swept?.of(i.id) ?? none()]));
    const done = o.dryRun
      ? await decidePart(o.db, lists, { paid, full: fetched }, o)
      : await writeTransaction(o.db, async (trx) => {
          const written = await decidePart(trx, lists, { paid, full: fetched }, o);
          killPoint('reversals-before-commit');
          return written;
        });
    out.decisions.push(...done.decisions);
    out.newInReview.push(...done.newInReview);
  }
  if (!o.dryRun) killPoint('reversals-after-commit');
  return out;
}

const none = (): PaymentReversals => ({ refunds: [], disputes: [] });

/**
 * What each credited payment paid: the ledger's amount, else (an app's own row, which does not say)
 * the PaymentIntent's `amount_received`.
 */
async function amountsPaid(reader: StripeReader, purchases: readonly HeldPurchase[]): Promise<Map<string, number>> {
  const paid = new Map<string, number>();
  const ask: string[] = [];
  for (const p of purchases) {
    if (p.amount !== null) paid.set(p.paymentKey, p.amount);
    else ask.push(p.paymentKey);
  }
  await mapLimit(ask, 8, async (id) => {
    const pi = await reader.retrievePaymentIntent(id);
    paid.set(id, pi.amount_received || pi.amount);
  });
  return paid;
}

/**
 * One batch, read and decided against the ledger as it is now and, applying, written in the same
 * transaction: a webhook or another run that wrote an entry meanwhile makes ours `already_reversed`.
 */
async function decidePart(
  db: Kysely<Database>,
  lists: Map<string, PaymentReversals>,
  known: { paid: Map<string, number>; full: Map<string, PaymentReversals> },
  o: ReversalRunOptions,
): Promise<ReversalOutcome> {
  const { paid } = known;
  const lookups = [...lists].map(([pi, l]) =>
    lookupOf(
      pi,
      [...l.refunds, ...l.disputes].map((x) => x.id),
    ),
  );
  const state = await readReversalState(db, lookups, o.config.ledger, { toolTables: o.toolTables });
  // A payment credited since the first read (a webhook meanwhile) has only the window's lists here,
  // not all its refunds: the next run or event decides it.
  for (const pi of [...state.purchases.keys()]) if (!known.full.has(pi)) state.purchases.delete(pi);
  const items: ReversalToWrite[] = [];
  const decisions: ReversalDecision[] = [];
  for (const [pi, l] of lists) {
    const decided = decideOne(pi, l, state, paid, o);
    decisions.push(...decided);
    const purchase = state.purchases.get(pi);
    if (!purchase) continue;
    const created = new Map([...l.refunds, ...l.disputes].map((x) => [x.id, x.created]));
    for (const d of decided) items.push({ decision: d, purchase, occurredAt: created.get(d.id) });
  }
  if (o.dryRun) return { decisions, newInReview: await wouldBeNewInReview(db, items, o.toolTables) };
  const written = await insertReversals(db, items, {
    runId: o.runId,
    actor: o.actor,
    reason: null,
    adoption: o.config,
  });
  const already = new Set(written.alreadyThere);
  for (const d of decisions) if (already.has(d.id)) d.status = 'already_reversed';
  const fresh = await upsertReversalReview(db, items, o.runId);
  return { decisions, newInReview: [...fresh] };
}

function decideOne(
  pi: string,
  l: PaymentReversals,
  state: ReversalLedgerState,
  paid: Map<string, number>,
  o: ReversalRunOptions,
): ReversalDecision[] {
  const purchase = state.purchases.get(pi);
  return decideReversals(
    {
      paymentKey: pi,
      purchase: purchase ? { userId: purchase.userId, credits: purchase.credits } : null,
      amountPaid: paid.get(pi) ?? 0,
      refunds: l.refunds,
      disputes: l.disputes,
      written: state.written.get(pi) ?? [],
    },
    { policy: o.config.reversals, dryRun: o.dryRun, isDismissed: (id) => state.dismissed.has(id) },
  );
}

/** A dry run's `needs_review` ids that the review queue does not hold yet. */
async function wouldBeNewInReview(
  db: Kysely<Database>,
  items: readonly ReversalToWrite[],
  toolTables: boolean,
): Promise<string[]> {
  const ids = items.filter((i) => i.decision.status === 'needs_review').map((i) => i.decision.id);
  if (ids.length === 0 || !toolTables) return ids;
  const queued = await db
    .selectFrom('stripe_credits_review')
    .select('payment_key')
    .where('payment_key', 'in', ids)
    .execute();
  const held = new Set(queued.map((r) => r.payment_key));
  return ids.filter((id) => !held.has(id));
}

/** SPEC's `reversals` item: what `reconcile --json` lists and the library's handleWebhook returns. */
export interface ReversalItem {
  id: string;
  paymentKey: string;
  userId: string | null;
  credits: number;
  status: ReversalDecision['status'];
  reason: ReversalDecision['reason'];
}

export function reversalItem(d: ReversalDecision): ReversalItem {
  return {
    id: d.id,
    paymentKey: d.paymentKey,
    userId: d.userId,
    credits: d.credits,
    status: d.status,
    reason: d.reason,
  };
}
