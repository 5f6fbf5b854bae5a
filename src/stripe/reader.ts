import Stripe from 'stripe';
import { CliError } from '../errors.js';
import { toLineItem } from './map.js';
import { RateLimiter } from './rate-limit.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';

/** A range of `created` times, as list endpoints take it: from `gte` included to `lt` excluded. */
export interface CreatedRange {
  gte: number;
  lt: number;
}

export const PAGE = 100;

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
 * Runs `work` on items as they are added, `limit` at a time, in the order added. `add` waits while
 * `room` items wait to start (the adder is held back instead of the queue growing; `push` does
 * not wait), and throws once a piece of work has failed; `drain` waits for all of it, and throws
 * the first failure.
 */
export class WorkQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private running = 0;
  private failure: { error: unknown } | null = null;
  private waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly room: number,
    private readonly work: (item: T) => Promise<void>,
  ) {}

  /** Items waiting or running. */
  get size(): number {
    return this.items.length - this.head + this.running;
  }

  async add(item: T): Promise<void> {
    this.push(item);
    await this.roomy();
  }

  /** Adds without waiting for room (see roomy). */
  push(item: T): void {
    this.check();
    this.items.push(item);
    this.pump();
  }

  /** Waits while `room` items or more wait to start. */
  async roomy(): Promise<void> {
    while (this.items.length - this.head >= this.room && this.failure === null) await this.next();
    this.check();
  }

  async drain(): Promise<void> {
    while (this.size > 0 && this.failure === null) await this.next();
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private pump(): void {
    // After a failure nothing more starts: the run is over, and what waits is dropped.
    while (this.running < this.limit && this.head < this.items.length && this.failure === null) {
      const item = this.items[this.head] as T;
      this.items[this.head++] = undefined;
      if (this.head === this.items.length || (this.head > 1024 && this.head * 2 > this.items.length)) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.running += 1;
      this.work(item)
        .catch((error: unknown) => {
          this.failure ??= { error };
        })
        .finally(() => {
          this.running -= 1;
          this.pump();
          const waiting = this.waiting;
          this.waiting = [];
          for (const w of waiting) w();
        });
    }
  }
}

/**
 * Stripe has no such object (withRetry wraps the SDK's error: look at its cause). A fact about
 * that one object: it ends nothing else. Only Stripe's `resource_missing` says so: a bare 404 (a
 * wrong API base, a proxy) is no answer about any object.
 */
export function isMissing(e: unknown): boolean {
  if (e instanceof ReaderStopped) return false;
  const err = e instanceof CliError ? e.cause : e;
  return err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing';
}

/**
 * A request not made because the reading had already ended (another request failed for good, or
 * the run stopped it). Says what ended it, with its exit code; never taken for an answer of Stripe's
 * (a replayed 404 read as "missing" would pass over every payment after it).
 */
export class ReaderStopped extends CliError {
  constructor(readonly reason: unknown) {
    super(
      reason instanceof Error ? reason.message : String(reason),
      reason instanceof CliError ? reason.exitCode : 1,
      reason instanceof CliError ? reason.hint : undefined,
      {
        cause: reason,
      },
    );
  }
}

/**
 * Reads from Stripe through the SDK: every request paced by the rate limiter (per endpoint and
 * global), retried under the retry policy, and counted. The one place that knows which endpoints
 * the tool calls (a restricted key needs read access to exactly these: Checkout Sessions,
 * PaymentIntents, Charges via expansion, Invoices for InvoicePayments, Refunds, Disputes, Events).
 */
export class StripeReader {
  requests = 0;
  readonly requestsByEndpoint = new Map<string, number>();
  /**
   * How many seconds this machine's clock is ahead of Stripe's (negative: behind), from the Date
   * header of the answers; null before one. Each answer's arrival minus its Date can only overstate
   * it (the time in flight, the Date's truncated second), so the smallest is kept.
   */
  clockAhead: number | null = null;
  /**
   * Once a request has failed for good (an outage past the retry budget, a rejected key), the run is
   * over: the other scans stop at their next request. An object Stripe does not have is no failure.
   */
  private failure: unknown = null;
  /** Settled by the first answer: resolved by the first request that succeeds, rejected by the first that fails for good. */
  private readonly answered: Promise<void>;
  private answer!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(
    readonly stripe: Stripe,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** The key as it may be shown (masked), for error messages. */
    private readonly keyLabel?: string,
    readonly limiter: RateLimiter | null = null,
  ) {
    this.answered = new Promise<void>((resolve, reject) => (this.answer = { resolve, reject }));
    this.answered.catch(() => {}); // nobody need ask
  }

  /**
   * Resolves once any request has succeeded (the key works), rejects with the error of the first
   * request that failed for good (a rejected key: StripeAuthError), whichever comes first.
   */
  firstAnswer(): Promise<void> {
    return this.answered;
  }

  /** Hands every response to `log` as one line (method, path, status, time, request id): `--verbose`. */
  logResponses(log: (line: string) => void): void {
    this.stripe.on('response', (r: Stripe.ResponseEvent) =>
      log(`stripe: ${r.method} ${r.path} → ${r.status} ${r.elapsed}ms ${r.request_id ?? ''}`),
    );
  }

  /** Ends the reading: every request not yet made fails with `reason`. */
  stop(reason: unknown): void {
    this.failure ??= reason;
  }

  /** One request to `endpoint` (a name for its rate lane, e.g. 'sessions.list'). */
  async call<T>(what: string, fn: () => Promise<T>, endpoint = 'other'): Promise<T> {
    if (this.failure !== null) throw new ReaderStopped(this.failure);
    return withRetry(
      what,
      async () => {
        if (this.limiter) await this.limiter.acquire(endpoint);
        this.requests += 1;
        this.requestsByEndpoint.set(endpoint, (this.requestsByEndpoint.get(endpoint) ?? 0) + 1);
        try {
          const out = await fn();
          this.sawDate(out);
          this.answer.resolve();
          return out;
        } catch (e) {
          if (this.limiter && e instanceof Stripe.errors.StripeRateLimitError) this.limiter.rateLimited(endpoint);
          throw e;
        }
      },
      this.retry,
      this.keyLabel,
    ).catch((e: unknown) => {
      if (isMissing(e)) {
        this.answer.resolve(); // Stripe answered: the key works
      } else {
        this.failure ??= e;
        this.answer.reject(e);
      }
      throw e;
    });
  }

  private sawDate(out: unknown): void {
    const date = (out as { lastResponse?: { headers?: Record<string, unknown> } } | null)?.lastResponse?.headers?.date;
    const at = typeof date === 'string' ? Date.parse(date) : NaN;
    if (Number.isNaN(at)) return;
    const ahead = (Date.now() - at) / 1000;
    this.clockAhead = this.clockAhead === null ? ahead : Math.min(this.clockAhead, ahead);
  }

  /** Unix seconds `localNow` (this machine's clock) as Stripe's clock reads it, never later than `localNow`. */
  stripeTime(localNow: number): number {
    return this.clockAhead !== null && this.clockAhead > 0 ? Math.floor(localNow - this.clockAhead) : localNow;
  }

  /** A list page that says there is more but holds nothing: Stripe would never send it; stop rather than skip the rest. */
  static checkPage(what: string, page: { data: unknown[]; has_more: boolean }): void {
    if (page.has_more && page.data.length === 0)
      throw new CliError(`Stripe answered an empty page that says there is more, while trying to ${what}`, 1);
  }

  /** Every page of a list endpoint, newest first, following `starting_after`. */
  async *pages<T extends { id: string }>(
    what: string,
    list: (startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>,
    endpoint = 'other',
  ): AsyncGenerator<T[]> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.call(what, () => list(cursor), endpoint);
      StripeReader.checkPage(what, page);
      if (page.data.length > 0) yield page.data;
      if (!page.has_more || page.data.length === 0) return;
      cursor = page.data[page.data.length - 1]!.id;
    }
  }

  async listLineItems(sessionId: string) {
    const items = [];
    for await (const page of this.pages(
      `list line items of ${sessionId}`,
      (starting_after) => this.stripe.checkout.sessions.listLineItems(sessionId, { limit: PAGE, starting_after }),
      'sessions.line_items',
    )) {
      items.push(...page.map(toLineItem));
    }
    return items;
  }

  // doctor: one small request per permission the tool needs. Each is retried on its own, outside
  // `call`, so that one permission refused does not stop the reader and every missing one is named.

  /** Lists one object of `list`; throws as `call` does (StripeAuthError when the key is refused). */
  async probe(
    list: 'checkout_sessions' | 'payment_intents' | 'charges' | 'invoice_payments' | 'events' | 'refunds' | 'disputes',
    what: string,
  ): Promise<void> {
    const one = { limit: 1 };
    const request: () => Promise<unknown> = {
      checkout_sessions: () => this.stripe.checkout.sessions.list(one),
      payment_intents: () => this.stripe.paymentIntents.list(one),
      charges: () => this.stripe.charges.list(one),
      invoice_payments: () => this.stripe.invoicePayments.list(one),
      events: () => this.stripe.events.list(one),
      refunds: () => this.stripe.refunds.list(one),
      disputes: () => this.stripe.disputes.list(one),
    }[list];
    await withRetry(what, request, this.retry, this.keyLabel);
  }

  // Lookup's lists: one page each, newest first (a person's payments, not a scan).

  /**
   * The newest complete Checkout Sessions of a payer: by the email given at checkout
   * (customer_details.email) or by Stripe customer, each with its PaymentIntent and latest charge.
   */
  async completeSessionsOf(
    payer: { email: string } | { customer: string },
    limit: number,
  ): Promise<FirstPage<Stripe.Checkout.Session>> {
    const byEmail = 'email' in payer;
    const what = byEmail
      ? `list Checkout Sessions of ${payer.email}`
      : `list Checkout Sessions of customer ${payer.customer}`;
    const filter = byEmail ? { customer_details: { email: payer.email } } : { customer: payer.customer };
    const page = await this.call(what, () =>
      this.stripe.checkout.sessions.list({
        ...filter,
        status: 'complete',
        limit,
        expand: ['data.payment_intent.latest_charge'],
      }),
    );
    return { what, data: page.data, hasMore: page.has_more };
  }

  /** The newest PaymentIntents of a Stripe customer. */
  async paymentIntentsOf(customer: string, limit: number): Promise<FirstPage<Stripe.PaymentIntent>> {
    const what = `list PaymentIntents of customer ${customer}`;
    const page = await this.call(what, () => this.stripe.paymentIntents.list({ customer, limit }));
    return { what, data: page.data, hasMore: page.has_more };
  }

  // The payments: the window sweep's lists (one page each, for scanCreated and scanAlong, which
  // request it through call()), and the reads of one payment by id.

  /** A page of complete Checkout Sessions created in a range, expanded as sessionExpand says. */
  listCompleteSessions(created: CreatedRange, startingAfter: string | undefined, lineItems: boolean) {
    return this.stripe.checkout.sessions.list({
      status: 'complete',
      created,
      limit: PAGE,
      starting_after: startingAfter,
      expand: sessionExpand(lineItems).map((e) => `data.${e}`),
    });
  }

  /** A page of PaymentIntents created in a range, their charge expanded (refunds). */
  listPaymentIntents(created: CreatedRange, startingAfter: string | undefined) {
    return this.stripe.paymentIntents.list({
      created,
      limit: PAGE,
      starting_after: startingAfter,
      expand: ['data.latest_charge'],
    });
  }

  /** A page of InvoicePayments created in a range. */
  listInvoicePayments(created: CreatedRange, startingAfter: string | undefined) {
    return this.stripe.invoicePayments.list({ created, limit: PAGE, starting_after: startingAfter });
  }

  /** The Checkout Session a PaymentIntent belongs to, if any, expanded as in a listing. */
  async sessionOfIntent(piId: string, lineItems: boolean): Promise<Stripe.Checkout.Session | null> {
    const owner = await this.call(
      `find the Checkout Session of ${piId}`,
      () =>
        this.stripe.checkout.sessions.list({
          payment_intent: piId,
          limit: 1,
          expand: sessionExpand(lineItems).map((e) => `data.${e}`),
        }),
      'sessions.list',
    );
    return owner.data[0] ?? null;
  }

  /** Whether a PaymentIntent pays an invoice (the link lives on InvoicePayments since API 2025-03-31). */
  async paysInvoice(piId: string): Promise<boolean> {
    const invoices = await this.call(
      `list InvoicePayments of ${piId}`,
      () => this.stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: piId }, limit: 1 }),
      'invoice_payments.list',
    );
    return invoices.data.length > 0;
  }

  retrieveSession(id: string, lineItems: boolean): Promise<Stripe.Checkout.Session> {
    const expand = sessionExpand(lineItems);
    return this.call(
      `retrieve ${id}`,
      () => this.stripe.checkout.sessions.retrieve(id, { expand }),
      'sessions.retrieve',
    );
  }

  retrievePaymentIntent(id: string): Promise<Stripe.PaymentIntent> {
    return this.call(
      `retrieve ${id}`,
      () => this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }),
      'payment_intents.retrieve',
    );
  }

  // Refunds and disputes: a page of a window's (for scanCreated), and all of one PaymentIntent's.
  // Each endpoint has its own rate lane, shared by both kinds of reading.

  /** A page of refunds created in a range. */
  listRefunds(created: CreatedRange, startingAfter: string | undefined) {
    return this.stripe.refunds.list({ created, limit: PAGE, starting_after: startingAfter });
  }

  /** A page of disputes created in a range. */
  listDisputes(created: CreatedRange, startingAfter: string | undefined) {
    return this.stripe.disputes.list({ created, limit: PAGE, starting_after: startingAfter });
  }

  /** Every page of a PaymentIntent's refunds. */
  refundsOf(piId: string): AsyncGenerator<Stripe.Refund[]> {
    return this.pages(
      `list the refunds of ${piId}`,
      (starting_after) => this.stripe.refunds.list({ payment_intent: piId, limit: PAGE, starting_after }),
      'refunds.list',
    );
  }

  /** Every page of a PaymentIntent's disputes. */
  disputesOf(piId: string): AsyncGenerator<Stripe.Dispute[]> {
    return this.pages(
      `list the disputes of ${piId}`,
      (starting_after) => this.stripe.disputes.list({ payment_intent: piId, limit: PAGE, starting_after }),
      'disputes.list',
    );
  }

  /** Every page of the events of these types created in a range. */
  events(types: readonly string[], created: CreatedRange): AsyncGenerator<Stripe.Event[]> {
    return this.pages(
      'list Events',
      (starting_after) => this.stripe.events.list({ types: [...types], created, limit: PAGE, starting_after }),
      'events.list',
    );
  }
}

/** The first page of a list: what was asked (for messages), what came, and whether Stripe has more. */
export interface FirstPage<T> {
  what: string;
  data: T[];
  hasMore: boolean;
}

/**
 * What a Checkout Session is read with: its PaymentIntent with the charge (refunds), and its line
 * items when a price map needs them (one request instead of one more per session).
 */
function sessionExpand(lineItems: boolean): string[] {
  return ['payment_intent.latest_charge', ...(lineItems ? ['line_items'] : [])];
}
