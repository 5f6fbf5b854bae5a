import type Stripe from 'stripe';
import type { Payment, Window } from '../reconcile/types.js';
import type { FetchRules } from './fetch-rules.js';
import { fetchPaymentById } from './payment-by-id.js';
import { mapLimit, type Progress, type StripeReader } from './reader.js';

/** The events that can change whether a payment is credited. */
export const EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'payment_intent.succeeded',
  'charge.refunded',
] as const;

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
  const ids = new Set<string>();
  let events = 0;
  for await (const page of reader.events(EVENT_TYPES, { gte: window.since, lt: window.until })) {
    for (const e of page) {
      const id = objectIdOf(e);
      if (id) ids.add(id);
    }
    events += page.length;
    progress(`${events} events read`);
  }
  return [...ids];
}

function objectIdOf(e: Stripe.Event): string | null {
  const obj = e.data.object as { id?: unknown; object?: unknown; payment_intent?: unknown };
  if (obj.object === 'charge') {
    const pi = obj.payment_intent;
    if (typeof pi === 'string') return pi;
    if (pi && typeof pi === 'object' && typeof (pi as { id?: unknown }).id === 'string')
      return (pi as { id: string }).id;
    return null;
  }
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
