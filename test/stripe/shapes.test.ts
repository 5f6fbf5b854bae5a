import type Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SHAPES, spread, type Shape } from '../../bench/shapes.js';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { RateLimiter } from '../../src/stripe/rate-limit.js';
import { StripeReader } from '../../src/stripe/reader.js';
import { DEFAULT_RETRY } from '../../src/stripe/retry.js';
import type { FetchRules } from '../../src/stripe/fetch-rules.js';
import { fetchPayments } from '../../src/stripe/window-sweep.js';

/**
 * The window sweep on accounts whose payments are not spread evenly (bench/shapes.ts: a launch
 * day, a daily cycle, growth...), against the simulator through the real SDK: every object listed
 * exactly once, the lists kept busy side by side whatever the spread, and about as many requests
 * as there are pages.
 */

const KEY = 'sk_test_sweep_shapes';
const HOUR = 3600;
const DAY = 86400;
const UNTIL = 1_780_000_000;
/** The bench's window: five days and an hour (the sessions list reaches a day further back). */
const WINDOW = { since: UNTIL - 5 * DAY - HOUR, until: UNTIL };
const RULES: FetchRules = { match: DEFAULT_CONFIG.match, credits: DEFAULT_CONFIG.credits };
/** Every PaymentIntent no session owns is a candidate: the InvoicePayments are listed too (scanAlong). */
const ALL: FetchRules = { ...RULES, match: { ...RULES.match, standalonePaymentIntents: 'all' } };

let sim: StripeSimulator;

beforeEach(async () => {
  // A little latency, so that the pages of the slices are on their way at the same time.
  sim = await startSimulator({ apiKeys: [KEY], now: () => UNTIL, faults: { latencyMs: 5 } });
});
afterEach(async () => {
  await sim.close();
});

/** `n` paid Checkout Sessions spread over the window by `shape`, as the bench makes them: their ids and their PaymentIntents'. */
function fill(shape: Shape, n: number) {
  const sessions: string[] = [];
  const intents: string[] = [];
  for (const paidAt of spread(shape, n, UNTIL - 60 - 5 * DAY, UNTIL - 60)) {
    const made = sim.store.createCheckoutPayment({
      created: paidAt - 120,
      paidAt,
      clientReferenceId: String((sessions.length % 50) + 1),
      amount: 1000,
    });
    sessions.push(made.session.id);
    intents.push(made.paymentIntent!.id);
  }
  return { sessions, intents };
}

/** `n` subscription payments (a PaymentIntent paying an invoice each) spread by `shape`: their ids. */
function fillInvoices(shape: Shape, n: number): string[] {
  return spread(shape, n, UNTIL - 60 - 5 * DAY, UNTIL - 60).map(
    (created) => sim.store.createPaymentIntent({ created, amount: 900, invoice: true }).paymentIntent.id,
  );
}

/** What one list returned, and how many of its requests were on their way when each was sent. */
interface ListLog {
  ids: string[];
  open: number;
  inFlightAtSend: number[];
}

function record<T extends { id: string }>(target: { list: (...args: never[]) => Promise<Stripe.ApiList<T>> }): ListLog {
  const log: ListLog = { ids: [], open: 0, inFlightAtSend: [] };
  const list = target.list.bind(target);
  target.list = async (...args: never[]) => {
    log.inFlightAtSend.push(log.open);
    log.open += 1;
    try {
      const page = await list(...args);
      log.ids.push(...page.data.map((o) => o.id));
      return page;
    } finally {
      log.open -= 1;
    }
  };
  return log;
}

/**
 * fetchPayments over the window, eight slices at once (about what the bench's run needs at 300 ms
 * a request: rate × round trip, 24 × 0.3), the rate not binding: what reached the sink, how many sessions and PaymentIntents the lists handed over (by
 * its progress), and the requests.
 */
async function sweep(rules = RULES) {
  const stripe = createStripeClient({ apiKey: KEY, apiBase: sim.url });
  const sessions = record(stripe.checkout.sessions as never);
  const intents = record(stripe.paymentIntents as never);
  const reader = new StripeReader(
    stripe,
    DEFAULT_RETRY,
    'sk_test_…',
    new RateLimiter({ global: 5000, perEndpoint: 5000 }, DEFAULT_RETRY.clock),
  );
  const paid: string[] = [];
  const read = { sessions: 0, intents: 0 };
  const progress = (message: string) => {
    const m = /^(\d+) Checkout Sessions and (\d+) PaymentIntents read/.exec(message);
    if (m) [read.sessions, read.intents] = [Number(m[1]), Number(m[2])];
  };
  await fetchPayments(reader, WINDOW, rules, async (batch) => void paid.push(...batch.map((p) => p.paymentKey)), {
    scan: { maxSlices: 8, inflightFactor: 1e6 },
    progress,
  });
  const requests = (endpoint: string) => reader.requestsByEndpoint.get(endpoint) ?? 0;
  return { sessions, intents, paid, read, requests };
}

const sorted = (ids: string[]) => [...ids].sort();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('the window sweep on uneven windows', () => {
  it.each(SHAPES.map((s) => [s.title, s.shape] as const))(
    '%s: every session and PaymentIntent handed over exactly once, every payment reaches the sink once',
    async (_title, shape) => {
      const made = fill(shape, 3_000);
      const invoices = fillInvoices(shape, 1_500);
      const { paid, read, requests } = await sweep(ALL);
      // Sorted lists, not sets: a payment handed over twice fails as surely as one missed. The
      // invoice payments are decided from the PaymentIntents list (and the InvoicePayments list
      // beside it), the others from the sessions list.
      expect(sorted(paid)).toEqual(sorted([...made.intents, ...invoices]));
      expect(read).toEqual({ sessions: 3_000, intents: 3_000 + 1_500 });
      // None was asked about on its own: the InvoicePayments list named each (about its pages).
      expect(requests('invoice_payments.list')).toBeLessThanOrEqual(1.1 * 15 + 12);
      expect(requests('sessions.list')).toBeLessThanOrEqual(1.1 * 30 + 12);
    },
  );

  it('80% of the payments in one day: the slices are split as they go, and the requests stay within 1.1x of the pages', async () => {
    const n = 10_000;
    fill('one-day', n);
    const { sessions, intents, requests } = await sweep();
    expect(new Set(sessions.ids).size).toBe(n);
    expect(new Set(intents.ids).size).toBe(n);
    const pages = Math.ceil(n / 100);
    // Cut once from the first page, the day fell in one or two slices paged one page after another.
    expect(mean(sessions.inFlightAtSend)).toBeGreaterThan(4);
    expect(mean(intents.inFlightAtSend)).toBeGreaterThan(4);
    expect(requests('sessions.list')).toBeLessThanOrEqual(1.1 * pages);
    expect(requests('payment_intents.list')).toBeLessThanOrEqual(1.1 * pages);
  });
});
