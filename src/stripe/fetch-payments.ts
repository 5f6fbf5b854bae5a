import type Stripe from 'stripe';
import { needsLineItems } from '../reconcile/credits.js';
import {
  SESSION_LOOKBACK_SECONDS,
  selectPayments,
  sessionPayment,
  standalonePayment,
  type SessionWithIntent,
} from '../reconcile/select.js';
import type { MatchConfig, CreditsConfig, Payment, PaymentIntentSnapshot, Window } from '../reconcile/types.js';
import { expandedIntent, toLineItem, toPaymentIntentSnapshot, toSessionSnapshot } from './map.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';

const PAGE = 100;
const SESSION_EXPAND = ['data.payment_intent.latest_charge'];
const INTENT_EXPAND = ['data.latest_charge'];

export type Progress = (message: string) => void;

/** Runs `fn` over `items` with at most `limit` in flight, keeping the input order in the result. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Reads from Stripe through the SDK, every request under the retry policy, counting requests.
 * The one place that knows which endpoints the tool calls (a restricted key needs read access to
 * exactly these: Checkout Sessions, PaymentIntents, Charges via expansion, Invoices for InvoicePayments).
 */
export class StripeReader {
  requests = 0;

  constructor(
    readonly stripe: Stripe,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** The key as it may be shown (masked), for error messages. */
    private readonly keyLabel?: string,
  ) {}

  call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(
      what,
      () => {
        this.requests += 1;
        return fn();
      },
      this.retry,
      this.keyLabel,
    );
  }

  /** Every page of a list endpoint, newest first, `limit=100`, following `starting_after`. */
  async *pages<T extends { id: string }>(
    what: string,
    list: (startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>,
  ): AsyncGenerator<T[]> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.call(what, () => list(cursor));
      if (page.data.length > 0) yield page.data;
      if (!page.has_more || page.data.length === 0) return;
      cursor = page.data[page.data.length - 1]!.id;
    }
  }

  async listLineItems(sessionId: string) {
    const items = [];
    for await (const page of this.pages(`list line items of ${sessionId}`, (starting_after) =>
      this.stripe.checkout.sessions.listLineItems(sessionId, { limit: PAGE, starting_after }),
    )) {
      items.push(...page.map(toLineItem));
    }
    return items;
  }
}

export interface FetchRules {
  match: MatchConfig;
  credits: CreditsConfig;
}

/**
 * Fetches every payment of the window (SPEC "Which Stripe objects are payments"): complete
 * Checkout Sessions created from 24 hours before the window, PaymentIntents created in it, and for
 * each standalone PaymentIntent that would count, whether it pays an invoice or belongs to a
 * session after all. Line items are fetched only where the price rule needs them.
 */
export async function fetchPayments(
  reader: StripeReader,
  window: Window,
  rules: FetchRules,
  progress: Progress = () => {},
): Promise<Payment[]> {
  const { stripe } = reader;
  const sessions: SessionWithIntent[] = [];
  const sessionsCreated = { gte: window.since - SESSION_LOOKBACK_SECONDS, lt: window.until };
  for await (const page of reader.pages('list Checkout Sessions', (starting_after) =>
    stripe.checkout.sessions.list({ status: 'complete', created: sessionsCreated, limit: PAGE, starting_after, expand: SESSION_EXPAND }),
  )) {
    for (const s of page) sessions.push({ session: toSessionSnapshot(s), paymentIntent: expandedIntent(s) });
    progress(`${sessions.length} Checkout Sessions read`);
  }

  const intents: PaymentIntentSnapshot[] = [];
  for await (const page of reader.pages('list PaymentIntents', (starting_after) =>
    stripe.paymentIntents.list({ created: { gte: window.since, lt: window.until }, limit: PAGE, starting_after, expand: INTENT_EXPAND }),
  )) {
    for (const pi of page) intents.push(toPaymentIntentSnapshot(pi));
    progress(`${intents.length} PaymentIntents read`);
  }

  const selection = selectPayments(sessions, intents, window, {
    standalone: rules.match.standalonePaymentIntents,
    creditsKey: rules.credits.metadataKey,
    userIdKeys: rules.match.userIdKeys,
  });

  // A standalone-looking PaymentIntent may still belong to a session created before the lookback,
  // or pay an invoice (its invoice link lives on InvoicePayments since API 2025-03-31).
  const standalone = await mapLimit(selection.standaloneCandidates, 8, async (pi): Promise<Payment | null> => {
    const owner = await reader.call(`find the Checkout Session of ${pi.id}`, () =>
      stripe.checkout.sessions.list({ payment_intent: pi.id, limit: 1, expand: SESSION_EXPAND }),
    );
    const session = owner.data[0];
    if (session) return sessionPayment(toSessionSnapshot(session), pi);
    const invoices = await reader.call(`list InvoicePayments of ${pi.id}`, () =>
      stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: pi.id }, limit: 1 }),
    );
    return standalonePayment(pi, invoices.data.length > 0);
  });

  const payments = [...selection.sessionPayments, ...standalone.filter((p): p is Payment => p !== null)];

  const needItems = payments.filter((p) => needsLineItems(p, rules.credits));
  if (needItems.length > 0) progress(`reading line items of ${needItems.length} sessions`);
  await mapLimit(needItems, 8, async (p) => {
    if (p.session) p.session = { ...p.session, lineItems: await reader.listLineItems(p.session.id) };
  });

  payments.sort((a, b) => a.paidAt - b.paidAt || (a.paymentKey < b.paymentKey ? -1 : 1));
  return payments;
}
