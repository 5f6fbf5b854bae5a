import type Stripe from 'stripe';
import { sessionPayment, standalonePayment } from '../reconcile/select.js';
import type { Payment, PaymentIntentSnapshot, SessionSnapshot } from '../reconcile/types.js';
import { UsageError } from '../errors.js';
import { countsAlone, expandsLineItems, fillLineItems, type FetchRules } from './fetch-rules.js';
import { isMissing, type StripeReader } from './reader.js';
import { expandedIntent, toPaymentIntentSnapshot, toSessionSnapshot } from './map.js';

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
  /** Told Stripe's 404 before null is returned (audit reads "a similar object exists in test mode" from it). */
  onMissing?: (e: unknown) => void,
): Promise<FetchedPayment | null> {
  const objects = await readObjects(reader, id, rules, onMissing);
  if (!objects) return null;
  const pi = objects.paymentIntent;
  const fetched = objects.session
    ? sessionVerdict(toSessionSnapshot(objects.session), pi)
    : await standaloneVerdict(reader, pi, rules);
  if (fetched.payment?.session) {
    await fillLineItems(reader, [fetched.payment], rules);
    fetched.session = fetched.payment.session;
  }
  return fetched;
}

/** The session (if any) and the PaymentIntent (if any) behind an id, or null when Stripe has neither. */
async function readObjects(
  reader: StripeReader,
  id: string,
  rules: FetchRules,
  onMissing?: (e: unknown) => void,
): Promise<{ session: Stripe.Checkout.Session | null; paymentIntent: PaymentIntentSnapshot | null } | null> {
  const lineItems = expandsLineItems(rules);
  try {
    if (paymentIdKind(id) === 'checkout_session') {
      const session = await reader.retrieveSession(id, lineItems);
      return { session, paymentIntent: expandedIntent(session) };
    }
    const paymentIntent = toPaymentIntentSnapshot(await reader.retrievePaymentIntent(id));
    return { session: await reader.sessionOfIntent(id, lineItems), paymentIntent };
  } catch (e) {
    if (!isMissing(e)) throw e;
    onMissing?.(e);
    return null;
  }
}

function sessionVerdict(session: SessionSnapshot, pi: PaymentIntentSnapshot | null): FetchedPayment {
  const payment = sessionPayment(session, pi);
  return { session, paymentIntent: pi, payment, notPayment: payment ? null : describeNotPayment(session, pi) };
}

async function standaloneVerdict(
  reader: StripeReader,
  pi: PaymentIntentSnapshot | null,
  rules: FetchRules,
): Promise<FetchedPayment> {
  const verdict: FetchedPayment = { session: null, paymentIntent: pi, payment: null, notPayment: null };
  if (!pi) return verdict;
  if (countsAlone(pi, rules)) verdict.payment = standalonePayment(pi, await reader.paysInvoice(pi.id));
  else
    verdict.notPayment =
      pi.status !== 'succeeded'
        ? `the PaymentIntent has status ${pi.status}`
        : `a standalone PaymentIntent that match.standalonePaymentIntents (${rules.match.standalonePaymentIntents}) does not count`;
  return verdict;
}

function describeNotPayment(s: SessionSnapshot, pi: PaymentIntentSnapshot | null): string {
  if (s.status !== 'complete') return `the Checkout Session is ${s.status}`;
  if (s.paymentStatus === 'unpaid')
    return `the Checkout Session is unpaid and its PaymentIntent is ${pi?.status ?? 'missing'}`;
  return `the Checkout Session has payment_status ${s.paymentStatus}`;
}
