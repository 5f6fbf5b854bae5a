import type Stripe from 'stripe';
import { WebhookSignatureError } from '../errors.js';

/** The webhook events that can complete a credit purchase. */
const FULFILLING_EVENTS: readonly string[] = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'payment_intent.succeeded',
];

/**
 * Verifies a webhook's signature with the SDK (over the exact bytes Stripe sent) and returns the id
 * of the Checkout Session or PaymentIntent an event that can complete a purchase names; null for
 * every other event. A bad signature throws WebhookSignatureError.
 */
export function paymentIdOfWebhook(
  stripe: Stripe,
  rawBody: string | Buffer,
  signatureHeader: string,
  endpointSecret: string,
): string | null {
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(rawBody, signatureHeader, endpointSecret);
  } catch (e) {
    throw new WebhookSignatureError(`webhook signature verification failed: ${(e as Error).message}`);
  }
  if (!FULFILLING_EVENTS.includes(event.type)) return null;
  const id = (event.data.object as { id?: unknown }).id;
  return typeof id === 'string' ? id : null;
}
