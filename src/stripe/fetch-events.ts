import type Stripe from 'stripe';
import type { Payment, Window } from '../reconcile/types.js';
import type { FetchRules } from './fetch-rules.js';
import { fetchPaymentById } from './payment-by-id.js';
import { mapLimit, type Progress, type StripeReader } from './reader.js';

/** The events that can change whether a payment is credited. */
const PAYMENT_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'payment_intent.succeeded',
  'charge.refunded',
] as const;

/**
 * The events that can change what a payment's refunds and disputes take back or give back (SPEC
 * "Reversals"), besides `charge.refunded` above: a refund that fails or is canceled, a pending one
 * that settles, a dispute opened, escalated from an inquiry, or closed. Webhooks act on the same.
 */
export const REVERSAL_EVENTS = [
  'refund.updated',
  'refund.failed',
  'charge.refund.updated',
  'charge.dispute.created',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.closed',
  'charge.dispute.funds_reinstated',
] as const;

/** Every type the events list asks for, at most the 20 Stripe takes in one `types` filter. */
const EVENT_TYPES = [...PAYMENT_EVENTS, ...REVERSAL_EVENTS] as const;

/** What events in a window touched: payments to re-read, and PaymentIntents whose refunds or disputes changed. */
export interface EventIds {
  /** Checkout Session and PaymentIntent ids, as idsFromEvents returns them. */
  payments: string[];
  /** PaymentIntent ids to read all refunds and disputes of (reversalsOf). */
  reversals: string[];
}

/**
 * The ids of the sessions and PaymentIntents that events in the window touched. An event's payload
 * is rendered in the API version of its day, so only ids are taken from it; the objects are
 * re-read in the pinned version.
 */
export async function idsFromEvents(
  reader: StripeReader,
  window: Window,
  progress: Progress = () => {},
): Promise<string[]> {
  return (await eventIds(reader, window, progress)).payments;
}

/**
 * One pass over the events of the window: the payments they touched (only the payment events, as
 * before reversals were read), and the PaymentIntents whose refunds or disputes they touched
 * (`charge.refunded` counts for both).
 */
export async function eventIds(reader: StripeReader, window: Window, progress: Progress = () => {}): Promise<EventIds> {
  const payments = new Set<string>();
  const reversals = new Set<string>();
  /** PaymentIntents of the sessions named: a session is read with its PaymentIntent, so that one is not read again. */
  const ofSessions = new Set<string>();
  let events = 0;
  for await (const page of reader.events(EVENT_TYPES, { gte: window.since, lt: window.until })) {
    for (const e of page) {
      const isPaymentEvent = (PAYMENT_EVENTS as readonly string[]).includes(e.type);
      const id = isPaymentEvent ? objectIdOf(e) : null;
      if (id) payments.add(id);
      if (id?.startsWith('cs_')) {
        const own = intentOfObject(e);
        if (own) ofSessions.add(own);
      }
      const pi = e.type === 'charge.refunded' || !isPaymentEvent ? intentOfObject(e) : null;
      if (pi) reversals.add(pi);
    }
    events += page.length;
    progress(`${events} events read`);
  }
  return { payments: [...payments].filter((id) => !ofSessions.has(id)), reversals: [...reversals] };
}

/** The PaymentIntent a charge, refund or dispute names (an id, or an expanded object). */
function intentOfObject(e: Stripe.Event): string | null {
  const pi = (e.data.object as { payment_intent?: unknown }).payment_intent;
  if (typeof pi === 'string') return pi;
  if (pi && typeof pi === 'object' && typeof (pi as { id?: unknown }).id === 'string') return (pi as { id: string }).id;
  return null;
}

function objectIdOf(e: Stripe.Event): string | null {
  const obj = e.data.object as { id?: unknown; object?: unknown };
  if (obj.object === 'charge') return intentOfObject(e);
  return typeof obj.id === 'string' && /^(cs_|pi_)/.test(obj.id) ? obj.id : null;
}

/**
 * Re-reads payments by id (sessions and PaymentIntents), eight at a time, and keeps those that
 * are payments under the same rules as a window scan, one per payment key. An id Stripe no longer
 * has (deleted test data) is passed over and added to `missing`: it says nothing about the others.
 */
export async function fetchPaymentsByIds(
  reader: StripeReader,
  ids: readonly string[],
  rules: FetchRules,
  progress: Progress = () => {},
  missing: string[] = [],
): Promise<Payment[]> {
  let done = 0;
  const fetched = await mapLimit(ids, 8, async (id) => {
    const r = await fetchPaymentById(reader, id, rules);
    if (!r) missing.push(id);
    done += 1;
    if (done % 50 === 0) progress(`${done} of ${ids.length} payments re-read`);
    return r?.payment ?? null;
  });
  const byKey = new Map<string, Payment>();
  for (const p of fetched) if (p && !byKey.has(p.paymentKey)) byKey.set(p.paymentKey, p);
  return [...byKey.values()];
}
