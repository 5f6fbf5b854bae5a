import type Stripe from 'stripe';
import type {
  DisputeSnapshot,
  LineItemSnapshot,
  PaymentIntentSnapshot,
  RefundSnapshot,
  SessionSnapshot,
} from '../reconcile/types.js';

/** Stripe objects → the plain snapshots the core decides on. */

function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : v.id;
}

function metadataOf(m: Stripe.Metadata | null | undefined): Record<string, string> {
  return m ? { ...m } : {};
}

export function toPaymentIntentSnapshot(pi: Stripe.PaymentIntent): PaymentIntentSnapshot {
  const charge = typeof pi.latest_charge === 'object' && pi.latest_charge !== null ? pi.latest_charge : null;
  if (pi.latest_charge !== null && charge === null) {
    // Refund state lives on the charge: every fetch expands it, so this is a programming error.
    throw new Error(`PaymentIntent ${pi.id} was fetched without expanding latest_charge`);
  }
  return {
    id: pi.id,
    created: pi.created,
    status: pi.status,
    amount: pi.amount,
    amountReceived: pi.amount_received,
    currency: pi.currency,
    customerId: idOf(pi.customer),
    metadata: metadataOf(pi.metadata),
    receiptEmail: pi.receipt_email ?? null,
    livemode: pi.livemode,
    refunded: charge !== null && charge.refunded,
    amountRefunded: charge?.amount_refunded ?? 0,
  };
}

/** Line items that came expanded with the session, when they are all there. */
function expandedLineItems(s: Stripe.Checkout.Session): LineItemSnapshot[] | null {
  const li = s.line_items;
  return li && !li.has_more ? li.data.map(toLineItem) : null;
}

export function toSessionSnapshot(
  s: Stripe.Checkout.Session,
  lineItems: LineItemSnapshot[] | null = expandedLineItems(s),
): SessionSnapshot {
  return {
    id: s.id,
    created: s.created,
    mode: s.mode,
    status: s.status ?? 'open',
    paymentStatus: s.payment_status,
    paymentIntentId: idOf(s.payment_intent),
    clientReferenceId: s.client_reference_id ?? null,
    metadata: metadataOf(s.metadata),
    customerId: idOf(s.customer),
    customerDetailsEmail: s.customer_details?.email ?? null,
    customerEmail: s.customer_email ?? null,
    customerName: s.customer_details?.name ?? null,
    amountTotal: s.amount_total ?? null,
    currency: s.currency ?? null,
    livemode: s.livemode,
    lineItems,
  };
}

/** The session's PaymentIntent when it was expanded. */
export function expandedIntent(s: Stripe.Checkout.Session): PaymentIntentSnapshot | null {
  return typeof s.payment_intent === 'object' && s.payment_intent !== null
    ? toPaymentIntentSnapshot(s.payment_intent)
    : null;
}

export function toLineItem(li: Stripe.LineItem): LineItemSnapshot {
  return { priceId: li.price?.id ?? null, quantity: li.quantity ?? 1 };
}

const REFUND_STATUSES: readonly string[] = ['succeeded', 'pending', 'requires_action', 'failed', 'canceled'];

/**
 * A refund as the core decides it. A status Stripe may add later (the SDK types it as any string,
 * or null) is read as `pending`: it neither takes credits back nor gives them back until Stripe says more.
 */
export function toRefundSnapshot(r: Stripe.Refund): RefundSnapshot {
  const status = r.status !== null && REFUND_STATUSES.includes(r.status) ? r.status : 'pending';
  return { id: r.id, amount: r.amount, status: status as RefundSnapshot['status'], created: r.created };
}

const DISPUTE_STATUSES: Record<string, DisputeSnapshot['status']> = {
  warning_needs_response: 'warning_needs_response',
  warning_under_review: 'warning_under_review',
  warning_closed: 'warning_closed',
  needs_response: 'needs_response',
  under_review: 'under_review',
  won: 'won',
  lost: 'lost',
  prevented: 'prevented',
  // An appeal of a lost dispute: the money stays withdrawn while it runs.
  appeal_needs_response: 'needs_response',
  appeal_under_review: 'under_review',
};

/** A dispute as the core decides it; a status Stripe may add later is an open inquiry (moves nothing). */
export function toDisputeSnapshot(d: Stripe.Dispute): DisputeSnapshot {
  return {
    id: d.id,
    amount: d.amount,
    status: DISPUTE_STATUSES[d.status] ?? 'warning_under_review',
    created: d.created,
  };
}

/**
 * The PaymentIntent a refund or dispute belongs to: its own `payment_intent`, else that of its
 * charge when the charge came expanded. Stripe sets `payment_intent` whenever the charge has one,
 * so the lists do not expand the charge: null means a charge made without a PaymentIntent, which is
 * no payment of this tool's.
 */
export function paymentIntentOf(o: Stripe.Refund | Stripe.Dispute): string | null {
  const own = idOf(o.payment_intent);
  if (own !== null) return own;
  return typeof o.charge === 'object' && o.charge !== null ? idOf(o.charge.payment_intent) : null;
}
