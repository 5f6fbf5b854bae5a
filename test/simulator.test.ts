import { describe, it, expect } from 'vitest';
import Stripe from 'stripe';
import { startSimulator, parseQuery, type StripeSimulator, type SimulatorOptions } from '../src/simulator/index.js';

const KEY = 'sk_test_simulator';
const T0 = 1_780_000_000;

function client(sim: StripeSimulator, opts: { key?: string; retries?: number } = {}): Stripe {
  return new Stripe(opts.key ?? KEY, {
    host: sim.host,
    port: sim.port,
    protocol: 'http',
    maxNetworkRetries: opts.retries ?? 0,
  });
}

async function withSim(fn: (sim: StripeSimulator, stripe: Stripe) => Promise<void>, opts?: SimulatorOptions) {
  const sim = await startSimulator(opts);
  try {
    await fn(sim, client(sim));
  } finally {
    await sim.close();
  }
}

/** 250 sessions, 10 per `created` second (many ties), each with a PaymentIntent. Returns ids newest first. */
function seedSessions(sim: StripeSimulator, n = 250): string[] {
  const created: Array<{ id: string; created: number; i: number }> = [];
  for (let i = 0; i < n; i++) {
    // insertion order deliberately not chronological
    const c = T0 + ((i * 7) % 25) * 100;
    const { session } = sim.store.createCheckoutPayment({ created: c, clientReferenceId: String(i) });
    created.push({ id: session.id, created: c, i });
  }
  return created.sort((a, b) => b.created - a.created || b.i - a.i).map((s) => s.id);
}

async function raw(sim: StripeSimulator, path: string, key = KEY): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(sim.url + path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

describe('parseQuery', () => {
  it('parses Stripe form encoding into nested objects', () => {
    expect(
      parseQuery(
        'limit=3&created[gte]=1&created%5Blt%5D=2&expand[]=data.a&expand[]=data.b&customer_details[email]=a%40b.c&payment[type]=payment_intent&x=a+b',
      ),
    ).toEqual({
      limit: '3',
      created: { gte: '1', lt: '2' },
      expand: ['data.a', 'data.b'],
      customer_details: { email: 'a@b.c' },
      payment: { type: 'payment_intent' },
      x: 'a b',
    });
    expect(parseQuery('expand[1]=b&expand[0]=a')).toEqual({ expand: ['a', 'b'] });
    expect(parseQuery('')).toEqual({});
  });
});

describe('simulator lists', () => {
  it('auto-paginates 250 sessions with limit 100: each exactly once, in order', async () => {
    await withSim(async (sim, stripe) => {
      const expected = seedSessions(sim);
      const got = await stripe.checkout.sessions.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
      expect(got.map((s) => s.id)).toEqual(expected);
      expect(new Set(got.map((s) => s.id)).size).toBe(250);
      expect(sim.requests.map((r) => r.endpoint)).toEqual(Array(3).fill('GET /v1/checkout/sessions'));
      expect(sim.requests.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(sim.requests[1]!.query).toEqual({ limit: '100', starting_after: expected[99] });
      const first = got[0]!;
      expect(first.object).toBe('checkout.session');
      expect(first.id).toMatch(/^cs_test_a1[A-Za-z0-9]{58}$/);
      expect(first.payment_intent).toMatch(/^pi_3/);
      expect(first).toMatchObject({ mode: 'payment', status: 'complete', payment_status: 'paid', livemode: false });
    });
  });

  it('pages backwards with ending_before', async () => {
    await withSim(async (sim, stripe) => {
      const expected = seedSessions(sim);
      const page = await stripe.checkout.sessions.list({ limit: 20, ending_before: expected[150] });
      expect(page.data.map((s) => s.id)).toEqual(expected.slice(130, 150));
      expect(page.has_more).toBe(true);
      const top = await stripe.checkout.sessions.list({ limit: 20, ending_before: expected[5] });
      expect(top.data.map((s) => s.id)).toEqual(expected.slice(0, 5));
      expect(top.has_more).toBe(false);
      // the SDK's reverse auto-pagination walks back to the newest
      const back = await stripe.checkout.sessions
        .list({ limit: 30, ending_before: expected[200] })
        .autoPagingToArray({ limit: 1000 });
      expect(back.map((s) => s.id)).toEqual(expected.slice(0, 200).reverse());
      const after = await stripe.checkout.sessions.list({ limit: 100, starting_after: expected[200] });
      expect(after.data.map((s) => s.id)).toEqual(expected.slice(201));
      expect(after.has_more).toBe(false);
    });
  });

  it('filters by created[gte]/[lt] and exact created before paging', async () => {
    await withSim(async (sim, stripe) => {
      seedSessions(sim);
      const from = T0 + 500;
      const to = T0 + 1500;
      const got = await stripe.checkout.sessions
        .list({ limit: 7, created: { gte: from, lt: to } })
        .autoPagingToArray({ limit: 1000 });
      expect(got.length).toBe(100); // 10 distinct seconds x 10
      expect(got.every((s) => s.created >= from && s.created < to)).toBe(true);
      const exact = await stripe.checkout.sessions.list({ limit: 100, created: T0 + 700 });
      expect(exact.data.length).toBe(10);
      const gt = await stripe.checkout.sessions.list({ limit: 100, created: { gt: T0 + 2300 } });
      expect(gt.data.map((s) => s.created)).toEqual(Array(10).fill(T0 + 2400));
      const pis = await stripe.paymentIntents.list({ limit: 100, created: { lte: T0 + 60 } });
      expect(pis.data.length).toBe(10);
    });
  });

  it('expands data.payment_intent.latest_charge and customer', async () => {
    await withSim(async (sim, stripe) => {
      const cus = sim.store.createCustomer({ email: 'a@example.com', name: 'A' });
      const { session, paymentIntent, charge } = sim.store.createCheckoutPayment({
        created: T0,
        customer: cus.id,
        refundedAmount: 400,
        amount: 1000,
      });
      const page = await stripe.checkout.sessions.list({
        expand: ['data.payment_intent.latest_charge', 'data.customer'],
      });
      const s = page.data[0]!;
      expect(s.id).toBe(session.id);
      const pi = s.payment_intent as Stripe.PaymentIntent;
      expect(pi.id).toBe(paymentIntent!.id);
      const ch = pi.latest_charge as Stripe.Charge;
      expect(ch.id).toBe(charge!.id);
      expect(ch).toMatchObject({ object: 'charge', amount: 1000, amount_refunded: 400, refunded: false });
      expect((s.customer as Stripe.Customer).email).toBe('a@example.com');
      // the stored objects are not modified by expansion
      expect(sim.store.get(session.id).payment_intent).toBe(paymentIntent!.id);
      const one = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect((one.payment_intent as Stripe.PaymentIntent).status).toBe('succeeded');
      await expect(stripe.checkout.sessions.list({ expand: ['payment_intent'] })).rejects.toMatchObject({
        type: 'StripeInvalidRequestError',
        message: 'This property cannot be expanded (payment_intent).',
      });
      await expect(stripe.checkout.sessions.list({ expand: ['data.metadata'] })).rejects.toThrow(
        'This property cannot be expanded (data.metadata).',
      );
    });
  });

  it('filters sessions by payment_intent and customer_details[email]', async () => {
    await withSim(async (sim, stripe) => {
      seedSessions(sim, 30);
      const { session, paymentIntent } = sim.store.createCheckoutPayment({ created: T0 - 5, email: 'x@y.z' });
      const page = await stripe.checkout.sessions.list({ payment_intent: paymentIntent!.id });
      expect(page.data.map((s) => s.id)).toEqual([session.id]);
      const byEmail = await stripe.checkout.sessions.list({ customer_details: { email: 'x@y.z' } });
      expect(byEmail.data.map((s) => s.id)).toEqual([session.id]);
      expect(byEmail.data[0]!.customer_details?.email).toBe('x@y.z');
      const none = await stripe.checkout.sessions.list({ payment_intent: 'pi_nope' });
      expect(none.data).toEqual([]);
    });
  });

  it('lists invoice_payments filtered by payment', async () => {
    await withSim(async (sim, stripe) => {
      const a = sim.store.createPaymentIntent({ created: T0, invoice: true, amount: 2500 });
      sim.store.createPaymentIntent({ created: T0 + 1, invoice: true });
      sim.store.createPaymentIntent({ created: T0 + 2 });
      const page = await stripe.invoicePayments.list({
        payment: { type: 'payment_intent', payment_intent: a.paymentIntent.id },
        expand: ['data.invoice'],
      });
      expect(page.data.length).toBe(1);
      const ip = page.data[0]!;
      expect(ip).toMatchObject({
        id: a.invoicePayment!.id,
        object: 'invoice_payment',
        amount_paid: 2500,
        status: 'paid',
        is_default: true,
        payment: { type: 'payment_intent', payment_intent: a.paymentIntent.id },
      });
      expect((ip.invoice as Stripe.Invoice).object).toBe('invoice');
      expect(ip.id).toMatch(/^inpay_/);
      const expanded = await stripe.invoicePayments.list({ expand: ['data.payment.payment_intent.latest_charge'] });
      const epi = expanded.data.find((x) => x.id === a.invoicePayment!.id)!.payment.payment_intent as Stripe.PaymentIntent;
      expect(epi.id).toBe(a.paymentIntent.id);
      expect((epi.latest_charge as Stripe.Charge).id).toBe(a.charge!.id);
      const deep = await raw(sim, '/v1/invoice_payments?expand[]=data.payment.payment_intent.customer.foo');
      expect(deep.status).toBe(400);
      const all = await stripe.invoicePayments.list({});
      expect(all.data.length).toBe(2);
      const r = await raw(sim, `/v1/invoice_payments?payment[payment_intent]=${a.paymentIntent.id}`);
      expect(r.status).toBe(400);
      expect(r.body.error.param).toBe('payment[type]');
    });
  });

  it('lists a session line_items', async () => {
    await withSim(async (sim, stripe) => {
      const { session } = sim.store.createCheckoutPayment({
        created: T0,
        lineItems: [
          { price: 'price_small', quantity: 2, unitAmount: 500 },
          { price: 'price_big', quantity: 1, unitAmount: 4000 },
        ],
      });
      expect(session.amount_total).toBe(5000);
      const items = await stripe.checkout.sessions.listLineItems(session.id);
      expect(items.data.map((li) => [li.price?.id, li.quantity, li.amount_total])).toEqual([
        ['price_small', 2, 1000],
        ['price_big', 1, 4000],
      ]);
      expect(items.data[0]!.id).toMatch(/^li_/);
      expect(items.data[0]!.price).toMatchObject({ object: 'price', unit_amount: 500, currency: 'usd' });
      const page2 = await stripe.checkout.sessions.listLineItems(session.id, {
        limit: 1,
        starting_after: items.data[0]!.id,
      });
      expect(page2.data.map((li) => li.price?.id)).toEqual(['price_big']);
      expect(page2.has_more).toBe(false);
      const withItems = await stripe.checkout.sessions.list({ expand: ['data.line_items.data.price.product'] });
      const expandedItems = withItems.data[0]!.line_items!;
      expect(expandedItems.data.length).toBe(2);
      expect(expandedItems.url).toBe(`/v1/checkout/sessions/${session.id}/line_items`);
      expect((expandedItems.data[0]!.price!.product as Stripe.Product).object).toBe('product');
      // a session built without line items gets one for its amount
      const { session: s2 } = sim.store.createCheckoutPayment({ created: T0, amount: 1234 });
      const items2 = await stripe.checkout.sessions.listLineItems(s2.id);
      expect(items2.data.map((li) => li.amount_total)).toEqual([1234]);
    });
  });

  it('searches PaymentIntents by metadata, customer and status, with paging', async () => {
    await withSim(async (sim, stripe) => {
      for (let i = 0; i < 25; i++) {
        sim.store.createPaymentIntent({
          created: T0 + i,
          metadata: { user_id: i % 2 ? 'odd' : 'even' },
          customer: i < 3 ? 'cus_A' : null,
          status: i === 0 ? 'processing' : 'succeeded',
        });
      }
      const even = await stripe.paymentIntents
        .search({ query: "metadata['user_id']:'even'", limit: 5 })
        .autoPagingToArray({ limit: 100 });
      expect(even.length).toBe(13);
      expect(even.map((p) => p.created)).toEqual([...even.map((p) => p.created)].sort((a, b) => b - a));
      const first = await stripe.paymentIntents.search({ query: "metadata['user_id']:'even'", limit: 5 });
      expect(first.object).toBe('search_result');
      expect(first.has_more).toBe(true);
      expect(first.next_page).toBeTruthy();
      const and = await stripe.paymentIntents.search({ query: "customer:'cus_A' AND status:'succeeded'" });
      expect(and.data.map((p) => p.created)).toEqual([T0 + 2, T0 + 1]);
      const or = await stripe.paymentIntents.search({ query: "status:'processing' OR metadata['user_id']:'nope'" });
      expect(or.data.map((p) => p.created)).toEqual([T0]);
      await expect(stripe.paymentIntents.search({ query: "email:'x'" })).rejects.toMatchObject({
        type: 'StripeInvalidRequestError',
      });
    });
  });
});

describe('simulator errors', () => {
  it('rejects filters Stripe does not have', async () => {
    await withSim(async (_sim, stripe) => {
      const piErr = await stripe.paymentIntents.list({ status: 'succeeded' } as any).catch((e) => e);
      expect(piErr).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(piErr.message).toBe('Received unknown parameter: status');
      expect(piErr.param).toBe('status');
      expect(piErr.statusCode).toBe(400);
      const csErr = await stripe.checkout.sessions.list({ payment_status: 'paid' } as any).catch((e) => e);
      expect(csErr).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(csErr.message).toBe('Received unknown parameter: payment_status');
      const limitErr = await stripe.paymentIntents.list({ limit: 101 }).catch((e) => e);
      expect(limitErr).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(limitErr.param).toBe('limit');
      const cursorErr = await stripe.paymentIntents.list({ starting_after: 'pi_missing' }).catch((e) => e);
      expect(cursorErr).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(cursorErr.code).toBe('resource_missing');
    });
  });

  it('401 for a wrong key, with the key masked', async () => {
    await withSim(async (sim) => {
      const err = await client(sim, { key: 'sk_test_wrongkey1234abcd' })
        .paymentIntents.list()
        .catch((e) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(err.message).toBe('Invalid API Key provided: sk_test_****abcd');
      expect(err.statusCode).toBe(401);
      const res = await fetch(sim.url + '/v1/payment_intents');
      expect(res.status).toBe(401);
      // basic auth with the key as user name works too
      const basic = await fetch(sim.url + '/v1/payment_intents', {
        headers: { authorization: 'Basic ' + Buffer.from(KEY + ':').toString('base64') },
      });
      expect(basic.status).toBe(200);
    });
  });

  it('404 resource_missing for unknown ids, 404 for unknown routes', async () => {
    await withSim(async (sim, stripe) => {
      const err = await stripe.paymentIntents.retrieve('pi_x').catch((e) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe('resource_missing');
      expect(err.message).toBe("No such payment_intent: 'pi_x'");
      expect(err.param).toBe('id');
      const r = await raw(sim, '/v1/nope');
      expect(r.status).toBe(404);
      expect(r.body.error.message).toBe('Unrecognized request URL (GET: /v1/nope)');
      expect(r.headers.get('request-id')).toMatch(/^req_/);
      expect(r.headers.get('content-type')).toBe('application/json');
      const echoed = await fetch(sim.url + '/v1/customers', {
        headers: { authorization: `Bearer ${KEY}`, 'stripe-version': '2026-10-28.endive' },
      });
      expect(echoed.headers.get('stripe-version')).toBe('2026-10-28.endive');
      const post = await fetch(sim.url + '/v1/customers', { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
      expect(post.status).toBe(404);
      expect(((await post.json()) as any).error.message).toBe('Unrecognized request URL (POST: /v1/customers)');
    });
  });

  it('failNext(500) is retried by the SDK with maxNetworkRetries 2', async () => {
    await withSim(async (sim) => {
      sim.store.createPaymentIntent({ created: T0 });
      sim.failNext(2, '500');
      const page = await client(sim, { retries: 2 }).paymentIntents.list();
      expect(page.data.length).toBe(1);
      expect(sim.requests.map((r) => r.status)).toEqual([500, 500, 200]);
    });
  });

  it('failNext(429) surfaces as StripeRateLimitError without retries', async () => {
    await withSim(async (sim, stripe) => {
      sim.failNext(1, '429');
      const err = await stripe.paymentIntents.list().catch((e) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(sim.requests.map((r) => r.status)).toEqual([429]);
      await expect(stripe.paymentIntents.list()).resolves.toMatchObject({ object: 'list' });
    });
  });

  it('a reset connection surfaces as StripeConnectionError', async () => {
    await withSim(async (sim, stripe) => {
      // the SDK retries a closed connection once even with maxNetworkRetries 0
      sim.failNext(2, 'reset');
      const err = await stripe.paymentIntents.list().catch((e) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(sim.requests.length).toBe(2);
      await expect(stripe.paymentIntents.list()).resolves.toMatchObject({ object: 'list' });
    });
  });

  it('random faults are deterministic for a seed', async () => {
    const run = async () => {
      const statuses: number[] = [];
      await withSim(
        async (sim) => {
          for (let i = 0; i < 30; i++) statuses.push((await raw(sim, '/v1/customers')).status);
        },
        { faults: { rate500: 0.3, rate429: 0.2, seed: 42 } },
      );
      return statuses;
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(a).toContain(500);
    expect(a).toContain(429);
    expect(a).toContain(200);
  });

  it('a per-endpoint rate limit gives 429s under a burst', async () => {
    await withSim(
      async (sim, stripe) => {
        const results = await Promise.allSettled(Array.from({ length: 20 }, () => stripe.paymentIntents.list()));
        const ok = results.filter((r) => r.status === 'fulfilled').length;
        const limited = results.filter(
          (r) => r.status === 'rejected' && r.reason instanceof Stripe.errors.StripeRateLimitError,
        ).length;
        expect(ok).toBe(5);
        expect(limited).toBe(15);
        // another endpoint has its own budget
        await expect(stripe.customers.list()).resolves.toMatchObject({ object: 'list' });
        const r = await raw(sim, '/v1/payment_intents');
        expect(r.status).toBe(429);
        expect(r.headers.get('stripe-rate-limited-reason')).toBe('endpoint-rate');
        expect(r.body.error.code).toBe('rate_limit');
      },
      { faults: { rateLimitPerEndpointPerSecond: 5 } },
    );
  });

  it('a global rate limit', async () => {
    await withSim(
      async (sim) => {
        const statuses = await Promise.all(
          Array.from({ length: 6 }, (_, i) => raw(sim, i % 2 ? '/v1/customers' : '/v1/charges').then((r) => r.status)),
        );
        expect(statuses.filter((s) => s === 429).length).toBe(3);
      },
      { faults: { rateLimitPerSecond: 3 } },
    );
  });

  it('applies latency', async () => {
    await withSim(async (sim, stripe) => {
      sim.setFaults({ latencyMs: 150 });
      const t = Date.now();
      await stripe.paymentIntents.list();
      expect(Date.now() - t).toBeGreaterThanOrEqual(140);
      sim.setFaults({ latencyMs: 0 });
      const t2 = Date.now();
      await stripe.paymentIntents.list();
      expect(Date.now() - t2).toBeLessThan(140);
    });
  });
});

describe('simulator store', () => {
  it('settles a processing PaymentIntent and refunds it', async () => {
    await withSim(async (sim, stripe) => {
      const { session, paymentIntent, charge } = sim.store.createCheckoutPayment({
        created: T0,
        paymentStatus: 'unpaid',
        amount: 700,
      });
      expect(paymentIntent!.status).toBe('processing');
      expect(charge).toBeNull();
      expect(session.payment_status).toBe('unpaid');
      sim.store.settle(paymentIntent!.id);
      const s = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.latest_charge'] });
      expect(s.payment_status).toBe('paid');
      const pi = s.payment_intent as Stripe.PaymentIntent;
      expect(pi).toMatchObject({ status: 'succeeded', amount_received: 700 });
      expect((pi.latest_charge as Stripe.Charge).payment_intent).toBe(pi.id);
      sim.store.refund(pi.id);
      const ch = await stripe.charges.retrieve((pi.latest_charge as Stripe.Charge).id);
      expect(ch).toMatchObject({ amount_refunded: 700, refunded: true });
    });
  });

  it('builds sessions without PaymentIntents where Stripe has none', async () => {
    await withSim(async (sim) => {
      const st = sim.store;
      expect(st.createCheckoutPayment({ created: T0, mode: 'subscription' }).paymentIntent).toBeNull();
      expect(st.createCheckoutPayment({ created: T0, mode: 'setup' }).paymentIntent).toBeNull();
      expect(st.createCheckoutPayment({ created: T0, status: 'expired' }).paymentIntent).toBeNull();
      expect(st.createCheckoutPayment({ created: T0, paymentStatus: 'no_payment_required' }).paymentIntent).toBeNull();
      const failed = st.createCheckoutPayment({ created: T0, status: 'open', piStatus: 'requires_payment_method' });
      expect(failed.paymentIntent!.status).toBe('requires_payment_method');
      expect(failed.session.payment_status).toBe('unpaid');
      const explicit = st.createCheckoutPayment({ id: 'cs_test_fixed', paymentIntentId: 'pi_fixed', created: T0 });
      expect(st.get('cs_test_fixed')).toBe(explicit.session);
      expect(st.get('pi_fixed').latest_charge).toBe(explicit.charge!.id);
      expect(st.counts()).toMatchObject({ 'checkout.session': 6, payment_intent: 2, charge: 1 });
      st.update('pi_fixed', { metadata: { credits: '5' } });
      expect(st.get('pi_fixed').metadata).toEqual({ credits: '5' });
    });
  });

  it('pages a large store quickly', async () => {
    await withSim(async (sim, stripe) => {
      for (let i = 0; i < 20_000; i++) sim.store.createPaymentIntent({ created: T0 + (i % 5000) });
      const t = Date.now();
      const all: Stripe.PaymentIntent[] = [];
      for await (const pi of stripe.paymentIntents.list({ limit: 100, created: { gte: T0 + 1000 } })) all.push(pi);
      expect(all.length).toBe(16_000);
      expect(new Set(all.map((p) => p.id)).size).toBe(16_000);
      expect(Date.now() - t).toBeLessThan(10_000);
    });
  });
});
