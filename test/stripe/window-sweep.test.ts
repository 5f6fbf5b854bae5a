import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/config.js';
import type { Payment } from '../../src/reconcile/types.js';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { IdSet } from '../../src/plan/id-table.js';
import type { FetchRules } from '../../src/stripe/fetch-rules.js';
import { fetchPayments } from '../../src/stripe/window-sweep.js';
import { RateLimiter } from '../../src/stripe/rate-limit.js';
import { StripeReader } from '../../src/stripe/reader.js';
import { DEFAULT_RETRY } from '../../src/stripe/retry.js';
import { DAY, HOUR, now } from '../helpers/cli.js';

const KEY = 'sk_test_fetch_payments';
const ALL: FetchRules = {
  match: { ...DEFAULT_CONFIG.match, standalonePaymentIntents: 'all' },
  credits: DEFAULT_CONFIG.credits,
};

/**
 * fetchPayments under the "all" policy, where every subscription payment is a standalone
 * candidate: how the candidates reach the sink (the Planner) while the lists run, against the
 * simulator through the real SDK.
 */
describe('fetchPayments under "all"', () => {
  let sim: StripeSimulator;
  const since = now() - 6 * DAY;
  const window = { since, until: now() };

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
  });
  afterEach(async () => {
    await sim.close();
  });

  /** A reader under limits that pace the lists evenly, and a record of what reached the sink. */
  function run(slowSessions = 0, rules: FetchRules = ALL) {
    const stripe = createStripeClient({ apiKey: KEY, apiBase: sim.url });
    if (slowSessions > 0) {
      // Still the simulator over HTTP, each page of sessions answered later.
      const list = stripe.checkout.sessions.list.bind(stripe.checkout.sessions);
      stripe.checkout.sessions.list = (async (...args: Parameters<typeof list>) => {
        await new Promise((r) => setTimeout(r, slowSessions));
        return list(...args);
      }) as typeof list;
    }
    const reader = new StripeReader(
      stripe,
      DEFAULT_RETRY,
      'sk_test_…',
      new RateLimiter({ global: 1500, perEndpoint: 500 }, DEFAULT_RETRY.clock),
    );
    const batches: { payments: Payment[]; intentPagesSoFar: number }[] = [];
    // Two slices a list: pages follow one another, as they do within each slice of a long sweep.
    const done = fetchPayments(
      reader,
      window,
      rules,
      async (batch) => {
        batches.push({ payments: batch, intentPagesSoFar: reader.requestsByEndpoint.get('payment_intents.list') ?? 0 });
      },
      // The off-heap id sets reconcile passes.
      { scan: { maxSlices: 2, inflightFactor: 1 }, idSet: () => new IdSet() },
    ).then(() => reader);
    return { done, batches };
  }

  const byKey = (batches: { payments: Payment[] }[]) => {
    const out = new Map<string, Payment>();
    for (const b of batches)
      for (const p of b.payments) {
        expect(out.has(p.paymentKey), `${p.paymentKey} reached the sink twice`).toBe(false);
        out.set(p.paymentKey, p);
      }
    return out;
  };

  it('keeps the PaymentIntent ids it remembers in the sets the caller makes (reconcile passes off-heap ones)', async () => {
    const ids = Array.from(
      { length: 3 },
      (_, i) =>
        sim.store.createCheckoutPayment({ created: since + HOUR + i, clientReferenceId: '1', amount: 1000 })
          .paymentIntent!.id,
    );
    const made: Set<string>[] = [];
    const idSet = () => {
      const set = new Set<string>();
      made.push(set);
      return set;
    };
    const reader = new StripeReader(createStripeClient({ apiKey: KEY, apiBase: sim.url }));
    let payments = 0;
    await fetchPayments(reader, window, ALL, async (batch) => void (payments += batch.length), { idSet });
    expect(payments).toBe(3);
    expect(made).toHaveLength(3);
    expect(made.filter((set) => ids.every((id) => set.has(id)))).toHaveLength(1);
  });

  it('old invoice payments are decided while the lists run, in batches of at most 1,000', async () => {
    const start = since + HOUR;
    const invoices: string[] = [];
    // 4,000 subscription payments over four days, all more than a day old; 150 credit purchases.
    for (let i = 0; i < 4_000; i++) {
      invoices.push(
        sim.store.createPaymentIntent({
          created: start + Math.floor((i * 4 * DAY) / 4_000),
          amount: 900,
          invoice: true,
        }).paymentIntent.id,
      );
    }
    for (let i = 0; i < 150; i++)
      sim.store.createCheckoutPayment({ created: start + i * 2_000, clientReferenceId: '1', amount: 1000 });
    // Made within the day: these are asked about one by one once the lists are done.
    const recent = Array.from(
      { length: 200 },
      (_, i) =>
        sim.store.createPaymentIntent({ created: now() - HOUR + i, amount: 900, invoice: true }).paymentIntent.id,
    );

    const { done, batches } = run();
    const reader = await done;
    const got = byKey(batches);
    expect(got.size).toBe(4_000 + 150 + 200);
    for (const id of [...invoices, ...recent]) expect(got.get(id)).toMatchObject({ session: null, paysInvoice: true });
    for (const b of batches) expect(b.payments.length).toBeLessThanOrEqual(1_000);

    // Many old invoice payments (the sink takes them a thousand at a time) reached it before the last page of PaymentIntents was asked
    // for: they were not held until the lists ended.
    const intentPages = reader.requestsByEndpoint.get('payment_intents.list')!;
    const old = new Set(invoices);
    const early = batches
      .filter((b) => b.intentPagesSoFar < intentPages)
      .reduce((n, b) => n + b.payments.filter((p) => old.has(p.paymentKey)).length, 0);
    expect(early).toBeGreaterThan(invoices.length / 4);
    // The recent ones were each asked for their session (one request each, beside the sessions
    // list's few pages); the old ones were not.
    const sessionRequests = reader.requestsByEndpoint.get('sessions.list')!;
    expect(sessionRequests).toBeGreaterThanOrEqual(200);
    expect(sessionRequests).toBeLessThan(200 + 30);
  });

  it('a session’s PaymentIntent that an invoice names is the session’s payment, even when the PaymentIntents list gets there first', async () => {
    const start = since + HOUR;
    const purchases: string[] = [];
    const invoices: string[] = [];
    for (let i = 0; i < 1_500; i++) {
      const created = start + Math.floor((i * 4 * DAY) / 1_500);
      // Checkout with invoice_creation: an InvoicePayment names the session's PaymentIntent.
      if (i % 5 === 0)
        purchases.push(
          sim.store.createCheckoutPayment({ created, clientReferenceId: '1', amount: 1000, invoice: true })
            .paymentIntent!.id,
        );
      else invoices.push(sim.store.createPaymentIntent({ created, amount: 900, invoice: true }).paymentIntent.id);
    }
    // Sessions are listed slowly, so the other two lists reach these PaymentIntents first.
    const { done, batches } = run(40);
    await done;
    const got = byKey(batches);
    for (const id of purchases) {
      const p = got.get(id)!;
      expect(p.session, `${id} was decided as a standalone PaymentIntent`).not.toBeNull();
      expect(p.paysInvoice).toBe(false);
    }
    for (const id of invoices) expect(got.get(id)).toMatchObject({ session: null, paysInvoice: true });
  });

  it('under the default policy, standalone PaymentIntents are asked about while the lists run, each once', async () => {
    const start = since + HOUR;
    // An app that sells credits through its own PaymentIntents (Payment Element), beside Checkout.
    const own = Array.from(
      { length: 1_500 },
      (_, i) =>
        sim.store.createPaymentIntent({
          created: start + Math.floor((i * 4 * DAY) / 1_500),
          amount: 500,
          metadata: { user_id: String((i % 3) + 1) },
        }).paymentIntent.id,
    );
    for (let i = 0; i < 100; i++)
      sim.store.createCheckoutPayment({ created: start + i * 3_000, clientReferenceId: '1', amount: 1000 });
    sim.requests.length = 0;
    const { done, batches } = run(0, { match: DEFAULT_CONFIG.match, credits: DEFAULT_CONFIG.credits });
    const reader = await done;
    const got = byKey(batches);
    for (const id of own) expect(got.get(id)).toMatchObject({ session: null, paysInvoice: false });
    expect(got.size).toBe(1_600);
    // One session request and one InvoicePayments request each, beside the sessions list's pages.
    expect(reader.requestsByEndpoint.get('invoice_payments.list')).toBe(1_500);
    expect(reader.requestsByEndpoint.get('sessions.list')! - 1_500).toBeLessThan(5);
    // The first of them went out before the PaymentIntents list had asked for its last page.
    const log = sim.requests.map((r) => ({
      endpoint: r.endpoint,
      check: 'payment_intent' in r.query || 'payment' in r.query,
    }));
    const firstCheck = log.findIndex((r) => r.check);
    const lastIntentPage = log.map((r) => r.endpoint).lastIndexOf('GET /v1/payment_intents');
    expect(firstCheck).toBeGreaterThan(0);
    expect(firstCheck).toBeLessThan(lastIntentPage);
  });
});
