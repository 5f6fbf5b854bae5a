import type { OpenDb } from '../ledger/db.js';
import { ledgerEntriesForPayment } from '../ledger/corrections.js';
import type { LedgerRow } from '../ledger/schema.js';
import { toDisputeSnapshot, toRefundSnapshot } from '../stripe/map.js';
import type { StripeReader } from '../stripe/reader.js';
import { isoSeconds } from '../when.js';
import { toEntry, type LedgerEntry } from './corrections.js';

/**
 * The refunds and disputes `lookup` shows beside the purchases: as Stripe tells them, each with the
 * reversal or reinstatement entries and the review entry the tool holds for it (keyed by its
 * re_…/dp_… id). A user lookup starts from what the ledger and the review queue hold for the user
 * and asks Stripe only about a bounded number of their payments.
 */

/** A refund or dispute as Stripe tells it. */
export interface ReversalSeen {
  id: string;
  source: 'refund' | 'dispute';
  amount: number;
  /** As the core reads it (a status Stripe may add later: see map.ts). */
  status: string;
  created: string;
}

export interface ReversalReview {
  status: string;
  userId: string | null;
  credits: number | null;
  queuedAt: string;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolution: string | null;
}

export interface ReversalHeld {
  /** The ledger's reversal and reinstatement entries for it. */
  entries: LedgerEntry[];
  /** Its review queue entry (the `review` policy), open or closed by a person; null when none. */
  review: ReversalReview | null;
}

/**
 * One of a user's refunds or disputes: of which payment, in what currency, and what the tool holds;
 * `amount`, `status` and `created` are null when it was not read from Stripe in this lookup.
 */
export type UserReversalView = Pick<ReversalSeen, 'id' | 'source'> & {
  [K in 'amount' | 'status' | 'created']: ReversalSeen[K] | null;
} & ReversalHeld & { paymentIntent: string; currency: string | null };

const sourceOf = (id: string): ReversalSeen['source'] => (id.startsWith('dp_') ? 'dispute' : 'refund');

/** Every refund and dispute of one PaymentIntent, from Stripe (two requests for most). */
export async function readReversals(reader: StripeReader, piId: string): Promise<ReversalSeen[]> {
  const found: ReversalSeen[] = [];
  const add = (source: ReversalSeen['source'], s: { id: string; amount: number; status: string; created: number }) =>
    found.push({ id: s.id, source, amount: s.amount, status: s.status, created: isoSeconds(s.created) });
  for await (const page of reader.refundsOf(piId)) for (const r of page) add('refund', toRefundSnapshot(r));
  for await (const page of reader.disputesOf(piId)) for (const d of page) add('dispute', toDisputeSnapshot(d));
  return found;
}

/** The ledger entries and the review entry the tool holds for each of these refund and dispute ids. */
export async function heldFor(
  open: OpenDb,
  tables: Set<string>,
  ids: readonly string[],
): Promise<{ entries: LedgerRow[]; held: (id: string) => ReversalHeld }> {
  const entries = tables.has('credit_ledger') && ids.length ? await ledgerEntriesForPayment(open.db, ids) : [];
  // Only the entries of the reversal queue (source set): a payment's own entry is never keyed by a re_/dp_ id.
  const reviews =
    tables.has('stripe_credits_review') && ids.length
      ? await open.db
          .selectFrom('stripe_credits_review')
          .selectAll()
          .where('payment_key', 'in', ids)
          .where('source', 'is not', null)
          .execute()
      : [];
  const held = (id: string): ReversalHeld => {
    const r = reviews.find((x) => x.payment_key === id);
    const review = r
      ? {
          status: r.status,
          userId: r.user_id,
          credits: r.credits === null ? null : Number(r.credits),
          queuedAt: r.created_at,
          resolvedBy: r.resolved_by,
          resolvedAt: r.resolved_at,
          resolution: r.resolution,
        }
      : null;
    return { entries: entries.filter((e) => e.payment_key === id).map(toEntry), review };
  };
  return { entries, held };
}

/** One of the user's payments, as the user lookup found it. */
export interface UserPaymentRef {
  paymentIntent: string | null;
  currency: string | null;
  /** Stripe says some of it was refunded (when it was read). */
  refunded: boolean;
  /** Its credits are with this user. */
  mine: boolean;
}

/** Where the user's refunds and disputes are looked for: the ledger, the review queue, Stripe. */
export interface UserReversalSources {
  reader: StripeReader;
  open: OpenDb;
  tables: Set<string>;
  userId: string;
  /** The user's ledger entries, newest first. */
  userEntries: readonly LedgerRow[];
  /** The user's payments, newest first. */
  payments: readonly UserPaymentRef[];
  /** At most this many PaymentIntents have their refunds and disputes read from Stripe. */
  limit: number;
  notes: string[];
}

/**
 * The user's refunds and disputes, newest first: those the ledger holds a reversal or reinstatement
 * entry for, those in the review queue for the user, and every one of the user's payments that
 * either names or that Stripe says was refunded, read from Stripe for up to `limit` PaymentIntents
 * (two requests each); the rest are shown as the tool holds them.
 */
export async function reversalsOfUser(s: UserReversalSources): Promise<UserReversalView[]> {
  const known = new Map<string, string>(); // refund or dispute id -> its PaymentIntent
  for (const e of s.userEntries)
    if ((e.kind === 'reversal' || e.kind === 'reinstatement') && e.payment_key && e.payment_intent_id)
      known.set(e.payment_key, e.payment_intent_id);
  if (s.tables.has('stripe_credits_review')) {
    const queued = await s.open.db
      .selectFrom('stripe_credits_review')
      .select(['payment_key', 'payment_intent_id', 'reversal_of'])
      .where('user_id', '=', s.userId)
      .where('source', 'in', ['refund', 'dispute'])
      .execute();
    for (const q of queued) {
      const pi = q.payment_intent_id ?? q.reversal_of;
      if (pi?.startsWith('pi_')) known.set(q.payment_key, pi);
    }
  }
  const currency = new Map<string, string | null>();
  for (const p of s.payments) if (p.paymentIntent) currency.set(p.paymentIntent, p.currency);
  const named = new Set(known.values());
  const toRead = [
    ...new Set([
      ...s.payments
        .filter((p) => p.mine && (p.refunded || named.has(p.paymentIntent ?? '')))
        .map((p) => p.paymentIntent),
      ...named,
    ]),
  ].filter((pi): pi is string => !!pi);
  if (toRead.length > s.limit)
    s.notes.push(
      `refunds and disputes of ${toRead.length - s.limit} older payments were not read from Stripe (shown as the ledger holds them)`,
    );
  const seen = new Map<string, UserReversalView>();
  for (const pi of toRead.slice(0, s.limit))
    for (const r of await readReversals(s.reader, pi))
      seen.set(r.id, { ...r, paymentIntent: pi, currency: currency.get(pi) ?? null, entries: [], review: null });
  for (const [id, pi] of known)
    if (!seen.has(id))
      seen.set(id, {
        id,
        source: sourceOf(id),
        amount: null,
        status: null,
        created: null,
        paymentIntent: pi,
        currency: currency.get(pi) ?? null,
        entries: [],
        review: null,
      });
  return withHoldings(s, [...seen.values()]);
}

async function withHoldings(s: UserReversalSources, views: UserReversalView[]): Promise<UserReversalView[]> {
  const { entries, held } = await heldFor(s.open, s.tables, [...views.map((v) => v.id)]);
  const firstEntry = new Map<string, LedgerRow>();
  for (const e of entries) if (e.payment_key && !firstEntry.has(e.payment_key)) firstEntry.set(e.payment_key, e);
  const when = (v: UserReversalView) => v.created ?? firstEntry.get(v.id)?.created_at ?? '';
  return views
    .map((v) => ({ ...v, currency: v.currency ?? firstEntry.get(v.id)?.currency ?? null, ...held(v.id) }))
    .sort((a, b) => (when(a) < when(b) ? 1 : when(a) > when(b) ? -1 : a.id < b.id ? -1 : 1));
}
