import type Stripe from 'stripe';
import { WebhookSignatureError } from '../errors.js';
import { REVERSAL_EVENTS } from './fetch-events.js';

/** The webhook events that can complete a credit purchase. */
const FULFILLING_EVENTS: readonly string[] = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'payment_intent.succeeded',
];

/** The webhook events that can take credits back or give them back (SPEC "Reversals"), as incremental runs read them. */
const REVERSING_EVENTS: readonly string[] = ['charge.refunded', ...REVERSAL_EVENTS];

/**
 * What a verified webhook is about: a payment to fulfil (a Checkout Session or PaymentIntent id),
 * the refunds and disputes of a PaymentIntent to decide again (with the refund or dispute the event
 * names, when it names one, and the event's mode where it says), or nothing this tool acts on.
 */
export type WebhookSubject =
  | { kind: 'payment'; id: string }
  | { kind: 'reversals'; paymentIntent: string; subject: string | null; livemode: boolean | null }
  | null;

/**
 * Verifies a webhook's signature with the SDK (over the exact bytes Stripe sent) and says what it
 * is about. A bad signature throws WebhookSignatureError.
 */
export function webhookSubject(
  stripe: Stripe,
  rawBody: string | Buffer,
  signatureHeader: string,
  endpointSecret: string,
): WebhookSubject {
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(rawBody, signatureHeader, endpointSecret);
  } catch (e) {
    throw new WebhookSignatureError(`webhook signature verification failed: ${(e as Error).message}`);
  }
  const object = event.data.object as { id?: unknown; object?: unknown; payment_intent?: unknown };
  if (FULFILLING_EVENTS.includes(event.type)) {
    return typeof object.id === 'string' ? { kind: 'payment', id: object.id } : null;
  }
  if (!REVERSING_EVENTS.includes(event.type)) return null;
  const pi = idOf(object.payment_intent);
  if (pi === null) return null;
  // A charge event names no one refund: every refund of the PaymentIntent is decided again.
  const subject = object.object === 'charge' || typeof object.id !== 'string' ? null : object.id;
  const livemode = typeof event.livemode === 'boolean' ? event.livemode : null;
  return { kind: 'reversals', paymentIntent: pi, subject, livemode };
}

/** An id, or an expanded object's id. */
function idOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string') return (v as { id: string }).id;
  return null;
}
