import Stripe from 'stripe';
import { needsLineItems } from '../reconcile/credits.js';
import { sessionPayment, standaloneCounts, standalonePayment } from '../reconcile/select.js';
import type { Payment, PaymentIntentSnapshot, SessionSnapshot } from '../reconcile/types.js';
import { UsageError } from '../errors.js';
import type { FetchRules, StripeReader } from './fetch-payments.js';
import { isMissing } from './reader.js';
import { expandedIntent, toPaymentIntentSnapshot, toSessionSnapshot } from './map.js';

const withLineItems = (rules: FetchRules) => Object.keys(rules.credits.prices).length > 0;

/**
 * What a session listing expands: its PaymentIntent with the charge (refunds), and its line items
 * when a price map is configured (one request instead of one more per session).
 */
export function sessionListExpand(rules: FetchRules): string[] {
  return ['data.payment_intent.latest_charge', ...(withLineItems(rules) ? ['data.line_items'] : [])];
}

/** The Checkout Session a PaymentIntent belongs to, if any, expanded as in a listing. */
export async function sessionOfIntent(
  reader: StripeReader,
  piId: string,
  rules: FetchRules,
): Promise<Stripe.Checkout.Session | null> {
  const owner = await reader.call(
    `find the Checkout Session of ${piId}`,
    () => reader.stripe.checkout.sessions.list({ payment_intent: piId, limit: 1, expand: sessionListExpand(rules) }),
    'sessions.list',
  );
  return owner.data[0] ?? null;
}

/** Whether a PaymentIntent pays an invoice (the link lives on InvoicePayments since API 2025-03-31). */
export async function paysInvoice(reader: StripeReader, piId: string): Promise<boolean> {
  const invoices = await reader.call(
    `list InvoicePayments of ${piId}`,
    () => reader.stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: piId }, limit: 1 }),
    'invoice_payments.list',
  );
  return invoices.data.length > 0;
}

/** What Stripe says about one id, and the payment it stands for (null when it is not one, with why). */
export interface FetchedPayment {
  session: SessionSnapshot | null;
  paymentIntent: PaymentIntentSnapshot | null;
  payment: Payment | null;
  /** Why the object is not a payment, when `payment` is null. */
  notPayment: string | null;
}

export function paymentIdKind(id: string): 'checkout_session' | 'payment_intent' {
  if (/^cs_(test|live)_[A-Za-z0-9]+$/.test(id)) return 'checkout_session';
  if (/^pi_[A-Za-z0-9]+$/.test(id)) return 'payment_intent';
  throw new UsageError(`not a Checkout Session or PaymentIntent id: '${id}'`, 'expected cs_… or pi_…');
}

/**
 * Reads one payment by id (`cs_…` or `pi_…`) with the same rules as a window scan: a PaymentIntent
 * that belongs to a session is that session's payment; a standalone one counts only under the
 * `match.standalonePaymentIntents` policy, and is flagged when it pays an invoice.
 * Returns null when Stripe has no such object.
 */
export async function fetchPaymentById(
  reader: StripeReader,
  id: string,
  rules: FetchRules,
): Promise<FetchedPayment | null> {
  const { stripe } = reader;
  let raw: Stripe.Checkout.Session | null = null;
  let pi: PaymentIntentSnapshot | null = null;
  try {
    if (paymentIdKind(id) === 'checkout_session') {
      const expand = ['payment_intent.latest_charge', ...(withLineItems(rules) ? ['line_items'] : [])];
      raw = await reader.call(
        `retrieve ${id}`,
        () => stripe.checkout.sessions.retrieve(id, { expand }),
        'sessions.retrieve',
      );
      pi = expandedIntent(raw);
    } else {
      const intent = await reader.call(
        `retrieve ${id}`,
        () => stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }),
        'payment_intents.retrieve',
      );
      pi = toPaymentIntentSnapshot(intent);
      raw = await sessionOfIntent(reader, id, rules);
    }
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }

  let session = raw ? toSessionSnapshot(raw) : null;
  let payment: Payment | null = null;
  let notPayment: string | null = null;
  if (session) {
    payment = sessionPayment(session, pi);
    if (!payment) notPayment = describeNotPayment(session, pi);
  } else if (pi) {
    if (standaloneCounts(pi, rules.match.standalonePaymentIntents, rules.credits.metadataKey, rules.match.userIdKeys)) {
      payment = standalonePayment(pi, await paysInvoice(reader, pi.id));
    } else {
      notPayment =
        pi.status !== 'succeeded'
          ? `the PaymentIntent has status ${pi.status}`
          : `a standalone PaymentIntent that match.standalonePaymentIntents (${rules.match.standalonePaymentIntents}) does not count`;
    }
  }
  if (payment && payment.session && payment.session.lineItems === null && needsLineItems(payment, rules.credits)) {
    session = { ...payment.session, lineItems: await reader.listLineItems(payment.session.id) };
    payment.session = session;
  }
  return { session, paymentIntent: pi, payment, notPayment };
}

function describeNotPayment(s: SessionSnapshot, pi: PaymentIntentSnapshot | null): string {
  if (s.status !== 'complete') return `the Checkout Session is ${s.status}`;
  if (s.paymentStatus === 'unpaid')
    return `the Checkout Session is unpaid and its PaymentIntent is ${pi?.status ?? 'missing'}`;
  return `the Checkout Session has payment_status ${s.paymentStatus}`;
}
