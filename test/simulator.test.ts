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

async function raw(
  sim: StripeSimulator,
  path: string,
  key = KEY,
): Promise<{ status: number; body: { error: Record<string, unknown> }; headers: Headers }> {
  const res = await fetch(sim.url + path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> }, headers: res.headers };
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
      const epi = expanded.data.find((x) => x.id === a.invoicePayment!.id)!.payment
        .payment_intent as Stripe.PaymentIntent;
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
      const piErr = await stripe.paymentIntents
        .list({ status: 'succeeded' } as Stripe.PaymentIntentListParams)
        .catch((e) => e);
      expect(piErr).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(piErr.message).toBe('Received unknown parameter: status');
      expect(piErr.param).toBe('status');
      expect(piErr.statusCode).toBe(400);
      const csErr = await stripe.checkout.sessions
        .list({ payment_status: 'paid' } as Stripe.Checkout.SessionListParams)
        .catch((e) => e);
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

  it("403 for a restricted key lacking a permission, Stripe's body naming it; expansions need theirs too", async () => {
    const rk = 'rk_test_restricted1234wxyz';
    await withSim(
      async (sim) => {
        sim.store.createCheckoutPayment({ created: T0, clientReferenceId: '1' });
        const stripe = client(sim, { key: rk });
        expect((await stripe.checkout.sessions.list({ limit: 1 })).data).toHaveLength(1);
        expect((await stripe.paymentIntents.list({ limit: 1 })).data).toHaveLength(1);
        const events = await stripe.events.list({ limit: 1 }).catch((e) => e);
        expect(events).toBeInstanceOf(Stripe.errors.StripePermissionError);
        expect(events.statusCode).toBe(403);
        expect(events.rawType).toBe('invalid_request_error');
        expect(events.message).toBe(
          "The provided key 'rk_test_****wxyz' does not have the required permissions for this endpoint on account 'acct_1SimulatorAccount0'. " +
            "Having the 'rak_event_read' permission would allow this request to continue.",
        );
        // Listing sessions is allowed, expanding their PaymentIntent's charge is not.
        const expanded = await stripe.checkout.sessions
          .list({ limit: 1, expand: ['data.payment_intent.latest_charge'] })
          .catch((e) => e);
        expect(expanded).toBeInstanceOf(Stripe.errors.StripePermissionError);
        expect(expanded.message).toMatch(/'rak_charge_read'/);
        // The other keys are unaffected.
        expect((await client(sim).events.list({ limit: 1 })).object).toBe('list');
      },
      { restrictedKeys: { rk_test_restricted1234wxyz: ['rak_checkout_session_read', 'rak_payment_intent_read'] } },
    );
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
      const post = await fetch(sim.url + '/v1/customers', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(post.status).toBe(404);
      expect(((await post.json()) as { error: { message: string } }).error.message).toBe(
        'Unrecognized request URL (POST: /v1/customers)',
      );
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
      // A lower bound only: a busy machine makes a request slower, never faster.
      expect(Date.now() - t).toBeGreaterThanOrEqual(140);
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

  it('pages a large store by created, every object once', async () => {
    await withSim(async (sim, stripe) => {
      for (let i = 0; i < 20_000; i++) sim.store.createPaymentIntent({ created: T0 + (i % 5000) });
      const all: Stripe.PaymentIntent[] = [];
      for await (const pi of stripe.paymentIntents.list({ limit: 100, created: { gte: T0 + 1000 } })) all.push(pi);
      expect(all.length).toBe(16_000);
      expect(new Set(all.map((p) => p.id)).size).toBe(16_000);
    });
  });
});

describe('simulator events', () => {
  const DAY = 86400;

  /** A simulator whose now() is `clock.now` (starts at T0 + 10 days). */
  async function withClock(fn: (sim: StripeSimulator, stripe: Stripe, clock: { now: number }) => Promise<void>) {
    const clock = { now: T0 + 10 * DAY };
    await withSim((sim, stripe) => fn(sim, stripe, clock), { now: () => clock.now });
  }

  const summary = (events: Stripe.Event[]) =>
    events.map((e) => [e.type, (e.data.object as { id: string }).id, e.created]);

  it('auto-pages events filtered by types[] and created[gte]: each exactly once, newest first', async () => {
    await withClock(async (sim, stripe) => {
      const sessions: string[] = [];
      const pis: string[] = [];
      for (let i = 0; i < 300; i++) {
        // groups of 7 share a second; insertion order not chronological
        const paidAt = T0 + ((i * 11) % 43) * 100;
        const r = sim.store.createCheckoutPayment({ created: paidAt - 60, paidAt });
        if (paidAt >= T0 + 1000) {
          sessions.push(r.session.id);
          pis.push(r.paymentIntent!.id);
        }
      }
      for (let i = 0; i < 50; i++) sim.store.createCustomer({ created: T0 + i });
      const types = ['checkout.session.completed', 'payment_intent.succeeded'];
      const got = await stripe.events
        .list({ types, created: { gte: T0 + 1000 }, limit: 100 })
        .autoPagingToArray({ limit: 10_000 });
      expect(got.length).toBe(sessions.length * 2);
      expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
      const ids = (t: string) => got.filter((e) => e.type === t).map((e) => (e.data.object as { id: string }).id);
      expect(new Set(ids('checkout.session.completed'))).toEqual(new Set(sessions));
      expect(new Set(ids('payment_intent.succeeded'))).toEqual(new Set(pis));
      for (let i = 1; i < got.length; i++) expect(got[i - 1]!.created).toBeGreaterThanOrEqual(got[i]!.created);
      expect(got.every((e) => e.created >= T0 + 1000 && types.includes(e.type))).toBe(true);
      expect(sim.requests.every((r) => r.endpoint === 'GET /v1/events' && r.status === 200)).toBe(true);
      expect(sim.requests[0]!.query).toMatchObject({ types: types, created: { gte: String(T0 + 1000) } });
      // the same order as the unfiltered list, restricted to those types
      const all = await stripe.events
        .list({ created: { gte: T0 + 1000 }, limit: 100 })
        .autoPagingToArray({ limit: 10_000 });
      expect(got.map((e) => e.id)).toEqual(all.filter((e) => types.includes(e.type)).map((e) => e.id));
      expect(all.length).toBe(sessions.length * 3); // + charge.succeeded
      // backwards over a merged filter
      const mid = got[150]!.id;
      const back = await stripe.events.list({ types, ending_before: mid, limit: 40 });
      expect(back.data.map((e) => e.id)).toEqual(got.slice(110, 150).map((e) => e.id));
      expect(back.has_more).toBe(true);
      const fwd = await stripe.events.list({ types, starting_after: mid, limit: 5 });
      expect(fwd.data.map((e) => e.id)).toEqual(got.slice(151, 156).map((e) => e.id));
    });
  });

  it('a paid session: charge.succeeded, payment_intent.succeeded, checkout.session.completed at paidAt', async () => {
    await withClock(async (sim, stripe) => {
      const { session, paymentIntent, charge } = sim.store.createCheckoutPayment({
        created: T0,
        paidAt: T0 + 90,
        clientReferenceId: 'u1',
        amount: 2500,
      });
      const page = await stripe.events.list();
      expect(summary(page.data)).toEqual([
        ['checkout.session.completed', session.id, T0 + 90],
        ['payment_intent.succeeded', paymentIntent!.id, T0 + 90],
        ['charge.succeeded', charge!.id, T0 + 90],
      ]);
      const ev = page.data[0]!;
      expect(ev).toMatchObject({
        object: 'event',
        api_version: '2026-10-28.endive',
        livemode: false,
        pending_webhooks: 0,
        request: { id: null, idempotency_key: null },
      });
      expect(ev.id).toMatch(/^evt_1[A-Za-z0-9]{23}$/);
      const s = ev.data.object as Stripe.Checkout.Session;
      expect(s).toMatchObject({
        status: 'complete',
        payment_status: 'paid',
        client_reference_id: 'u1',
        amount_total: 2500,
      });
      expect(s.payment_intent).toBe(paymentIntent!.id);
      expect((page.data[1]!.data.object as Stripe.PaymentIntent).latest_charge).toBe(charge!.id);
      // a copy, not the live object
      expect(s).not.toBe(sim.store.get(session.id));
      const one = await stripe.events.retrieve(ev.id);
      expect(one).toEqual(ev);
      // other session kinds
      sim.store.createCheckoutPayment({ created: T0 + 200, status: 'open' });
      const sub = sim.store.createCheckoutPayment({ created: T0 + 300, mode: 'subscription' }).session;
      const free = sim.store.createCheckoutPayment({ created: T0 + 400, paymentStatus: 'no_payment_required' }).session;
      const expired = sim.store.createCheckoutPayment({ created: T0 + 500, status: 'expired' }).session;
      sim.store.createCheckoutPayment({ created: T0 + 10 * DAY - 100, status: 'expired' }); // expires in the future
      const newer = await stripe.events.list({ created: { gt: T0 + 90 } });
      expect(summary(newer.data)).toEqual([
        ['checkout.session.expired', expired.id, T0 + 500 + DAY],
        ['checkout.session.completed', free.id, T0 + 400],
        ['checkout.session.completed', sub.id, T0 + 300],
      ]);
    });
  });

  it('an async payment that settles later, a refund, and a failed async payment', async () => {
    await withClock(async (sim, stripe, clock) => {
      const { session, paymentIntent } = sim.store.createCheckoutPayment({
        created: T0,
        paidAt: T0 + 60,
        paymentStatus: 'unpaid',
        amount: 700,
      });
      const pi = paymentIntent!.id;
      expect(summary((await stripe.events.list()).data)).toEqual([
        ['checkout.session.completed', session.id, T0 + 60],
        ['payment_intent.processing', pi, T0 + 60],
      ]);
      clock.now = T0 + 3 * DAY;
      sim.store.settle(pi);
      const chargeId = sim.store.get(pi).latest_charge as string;
      const settled = await stripe.events.list({ created: { gte: T0 + 3 * DAY } });
      expect(summary(settled.data)).toEqual([
        ['checkout.session.async_payment_succeeded', session.id, T0 + 3 * DAY],
        ['payment_intent.succeeded', pi, T0 + 3 * DAY],
        ['charge.succeeded', chargeId, T0 + 3 * DAY],
      ]);
      expect((settled.data[0]!.data.object as Stripe.Checkout.Session).payment_status).toBe('paid');
      // the completion event still shows the session as it was then
      const completed = await stripe.events.list({ type: 'checkout.session.completed' });
      expect((completed.data[0]!.data.object as Stripe.Checkout.Session).payment_status).toBe('unpaid');
      // settling again changes nothing
      sim.store.settle(pi);
      expect((await stripe.events.list({ limit: 100 })).data.length).toBe(5);

      clock.now = T0 + 4 * DAY;
      sim.store.refund(pi, 200);
      const refunded = await stripe.events.list({ types: ['charge.refunded', 'refund.created'] });
      expect(refunded.data.map((e) => [e.type, e.created])).toEqual([
        ['refund.created', T0 + 4 * DAY],
        ['charge.refunded', T0 + 4 * DAY],
      ]);
      const ch = refunded.data[1]!.data.object as Stripe.Charge;
      expect(ch).toMatchObject({ id: chargeId, payment_intent: pi, amount_refunded: 200, refunded: false });
      expect(refunded.data[1]!.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
      expect(refunded.data[0]!.data.object).toMatchObject({
        object: 'refund',
        amount: 200,
        charge: chargeId,
        payment_intent: pi,
      });

      // a fixture refund happens at now(), after the payment
      const r2 = sim.store.createCheckoutPayment({ created: T0 + 100, refundedAmount: 1000, amount: 1000 });
      const r2Events = (await stripe.events.list({ limit: 100 })).data.filter(
        (e) =>
          (e.data.object as { payment_intent?: unknown }).payment_intent === r2.paymentIntent!.id ||
          (e.data.object as { id?: unknown }).id === r2.paymentIntent!.id,
      );
      expect(r2Events.map((e) => [e.type, e.created])).toEqual([
        ['refund.created', T0 + 4 * DAY],
        ['charge.refunded', T0 + 4 * DAY],
        ['checkout.session.completed', T0 + 160],
        ['payment_intent.succeeded', T0 + 160],
        ['charge.succeeded', T0 + 160],
      ]);
      const chargeSucceeded = (await stripe.events.list({ type: 'charge.succeeded', limit: 100 })).data.find(
        (e) => (e.data.object as Stripe.Charge).id === r2.charge!.id,
      )!;
      expect((chargeSucceeded.data.object as Stripe.Charge).amount_refunded).toBe(0);

      // an async payment that fails later; and one built as failed
      const late = sim.store.createCheckoutPayment({ created: T0 + 1000, paymentStatus: 'unpaid' });
      clock.now = T0 + 5 * DAY;
      sim.store.failPayment(late.paymentIntent!.id);
      expect(sim.store.get(late.paymentIntent!.id).status).toBe('requires_payment_method');
      expect(sim.store.get(late.session.id).payment_status).toBe('unpaid');
      const built = sim.store.createCheckoutPayment({
        created: T0 + 2000,
        paymentStatus: 'unpaid',
        piStatus: 'requires_payment_method',
      });
      const failed = await stripe.events.list({ type: '*.*_failed', limit: 100 });
      expect(summary(failed.data)).toEqual([
        ['checkout.session.async_payment_failed', late.session.id, T0 + 5 * DAY],
        ['payment_intent.payment_failed', late.paymentIntent!.id, T0 + 5 * DAY],
        ['checkout.session.async_payment_failed', built.session.id, T0 + 2060],
        ['payment_intent.payment_failed', built.paymentIntent!.id, T0 + 2060],
      ]);
      expect(() => sim.store.failPayment(pi)).toThrow();
    });
  });

  it('PaymentIntents built directly, invoices, and emitEvent', async () => {
    await withClock(async (sim, stripe) => {
      const st = sim.store;
      const ok = st.createPaymentIntent({ created: T0 + 1, invoice: true });
      const proc = st.createPaymentIntent({ created: T0 + 2, status: 'processing' });
      const bad = st.createPaymentIntent({ created: T0 + 3, status: 'requires_payment_method' });
      const gone = st.createPaymentIntent({ created: T0 + 4, status: 'canceled' });
      const invoiceId = st.get(ok.invoicePayment!.id).invoice as string;
      const page = await stripe.events.list({ limit: 100 });
      expect(summary(page.data)).toEqual([
        ['payment_intent.canceled', gone.paymentIntent.id, T0 + 4],
        ['payment_intent.payment_failed', bad.paymentIntent.id, T0 + 3],
        ['payment_intent.processing', proc.paymentIntent.id, T0 + 2],
        ['invoice.paid', invoiceId, T0 + 1],
        ['payment_intent.succeeded', ok.paymentIntent.id, T0 + 1],
        ['charge.succeeded', ok.charge!.id, T0 + 1],
      ]);
      const cus = st.createCustomer({ created: T0, email: 'a@b.c' });
      const custom = st.emitEvent('customer.updated', cus.id, T0 + 5, { email: null });
      const got = await stripe.events.retrieve(custom.id);
      expect(got).toMatchObject({
        type: 'customer.updated',
        created: T0 + 5,
        data: { previous_attributes: { email: null } },
      });
      expect((got.data.object as Stripe.Customer).email).toBe('a@b.c');
      const now = st.emitEvent('customer.created', cus.id);
      expect(now.created).toBe(T0 + 10 * DAY);
      expect(() => st.emitEvent('x.y', 'cus_missing')).toThrow();
      expect(st.counts().event).toBe(8);
    });
  });

  it('retention: events older than 30 days are not listed and not found', async () => {
    await withClock(async (sim, stripe, clock) => {
      const old = sim.store.createCheckoutPayment({ created: T0, paidAt: T0 + 60 });
      const recent = sim.store.createCheckoutPayment({ created: T0 + 5 * DAY, paidAt: T0 + 5 * DAY });
      const before = await stripe.events.list({ type: 'checkout.session.completed' });
      expect(before.data.map((e) => (e.data.object as { id: string }).id)).toEqual([recent.session.id, old.session.id]);
      const oldEvent = before.data[1]!;
      // 30 days after the old payment: still there (inclusive), one second later gone
      clock.now = T0 + 60 + 30 * DAY;
      expect((await stripe.events.list({ limit: 100 })).data.length).toBe(6);
      clock.now += 1;
      const after = await stripe.events.list({ limit: 100 });
      expect(after.data.length).toBe(3);
      expect(after.data.every((e) => e.created === T0 + 5 * DAY)).toBe(true);
      expect((await stripe.events.list({ created: { lte: T0 + 100 } })).data).toEqual([]);
      const err = await stripe.events.retrieve(oldEvent.id).catch((e) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe('resource_missing');
      expect(err.message).toBe(`No such event: '${oldEvent.id}'`);
      const cursor = await stripe.events.list({ starting_after: oldEvent.id }).catch((e) => e);
      expect(cursor.statusCode).toBe(400);
      // the objects themselves are still there
      expect((await stripe.checkout.sessions.retrieve(old.session.id)).id).toBe(old.session.id);
    });
  });

  it('type wildcards and parameter errors', async () => {
    await withClock(async (sim, stripe) => {
      const { session } = sim.store.createCheckoutPayment({ created: T0, paymentStatus: 'unpaid' });
      sim.store.settle(sim.store.get(session.id).payment_intent);
      const wild = await stripe.events.list({ type: 'checkout.session.*' });
      expect(wild.data.map((e) => e.type)).toEqual([
        'checkout.session.async_payment_succeeded',
        'checkout.session.completed',
      ]);
      expect((await stripe.events.list({ type: 'payment_intent.*' })).data.map((e) => e.type)).toEqual([
        'payment_intent.succeeded',
        'payment_intent.processing',
      ]);
      expect((await stripe.events.list({ type: '*' })).data.length).toBe(5);
      expect((await stripe.events.list({ type: 'checkout.session' })).data).toEqual([]);
      expect((await stripe.events.list({ types: ['nope.nope'] })).data).toEqual([]);
      expect((await stripe.events.list({ delivery_success: true })).data.length).toBe(5);
      expect((await stripe.events.list({ delivery_success: false })).data).toEqual([]);

      const both = await stripe.events.list({ type: 'charge.succeeded', types: ['charge.refunded'] }).catch((e) => e);
      expect(both).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(both.statusCode).toBe(400);
      expect(both.message).toBe('You may only specify one of these parameters: type, types.');
      const many = await stripe.events.list({ types: Array.from({ length: 21 }, (_, i) => `t${i}.x`) }).catch((e) => e);
      expect(many.statusCode).toBe(400);
      expect(many.param).toBe('types');
      const unknown = await stripe.events.list({ object_id: 'x' } as Stripe.EventListParams).catch((e) => e);
      expect(unknown.message).toBe('Received unknown parameter: object_id');
      expect((await raw(sim, '/v1/events?types=a')).status).toBe(400);
      expect((await raw(sim, '/v1/events?delivery_success=maybe')).status).toBe(400);
      expect((await raw(sim, '/v1/events?created[after]=1')).status).toBe(400);
      expect((await raw(sim, '/v1/events?expand[]=data.data')).status).toBe(400);
      expect((await raw(sim, '/v1/events?limit=101')).status).toBe(400);
      const missing = await stripe.events.retrieve('evt_nope').catch((e) => e);
      expect(missing.statusCode).toBe(404);
      // an event id is not a payment intent
      const ev = wild.data[0]!;
      expect((await raw(sim, `/v1/payment_intents/${ev.id}`)).status).toBe(404);
      expect((await raw(sim, `/v1/events/${session.id}`)).status).toBe(404);
    });
  });

  it('emits three events a payment and lists a large store by type and created', async () => {
    await withClock(async (sim, stripe) => {
      for (let i = 0; i < 30_000; i++) sim.store.createCheckoutPayment({ created: T0 + (i % 5000) * 60 });
      expect(sim.store.counts().event).toBe(90_000);
      let n = 0;
      for await (const e of stripe.events.list({
        types: ['checkout.session.completed'],
        created: { gte: T0 + 1000 * 60 },
        limit: 100,
      })) {
        expect(e.type).toBe('checkout.session.completed');
        n++;
      }
      expect(n).toBe(6 * 4001); // completions at created + 60 >= T0 + 60000: i % 5000 >= 999
    });
  });
});
