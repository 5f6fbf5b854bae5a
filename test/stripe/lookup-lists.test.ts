import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { StripeReader } from '../../src/stripe/reader.js';
import { DEFAULT_RETRY } from '../../src/stripe/retry.js';
import { HOUR, now } from '../helpers/cli.js';

const KEY = 'sk_test_lookup_lists';

/** The reader's lists behind `lookup USER`: one page each, newest first, with what they asked for. */
describe('StripeReader lists for lookup', () => {
  let sim: StripeSimulator;
  let reader: StripeReader;

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    reader = new StripeReader(createStripeClient({ apiKey: KEY, apiBase: sim.url }), DEFAULT_RETRY, 'sk_test_…');
  });
  afterEach(async () => {
    await sim.close();
  });

  it('lists the complete sessions of an email or a customer, newest first, their PaymentIntent expanded', async () => {
    const start = now() - HOUR;
    const cus = sim.store.createCustomer({ id: 'cus_Q8xVb2LmT4nR7s', email: 'ada@example.com' }).id;
    for (let i = 0; i < 3; i++) sim.store.createCheckoutPayment({ created: start + i, email: 'ada@example.com' });
    sim.store.createCheckoutPayment({ created: start + 5, email: 'ada@example.com', status: 'expired' });
    sim.store.createCheckoutPayment({ created: start + 6, email: 'bob@example.com' });
    sim.store.createCheckoutPayment({ created: start + 7, customer: cus });

    const byEmail = await reader.completeSessionsOf({ email: 'ada@example.com' }, 2);
    expect(byEmail.what).toBe('list Checkout Sessions of ada@example.com');
    expect(byEmail.hasMore).toBe(true);
    expect(byEmail.data.map((s) => s.created)).toEqual([start + 2, start + 1]);
    expect(byEmail.data.every((s) => s.status === 'complete' && typeof s.payment_intent === 'object')).toBe(true);

    const byCustomer = await reader.completeSessionsOf({ customer: cus }, 10);
    expect(byCustomer.what).toBe(`list Checkout Sessions of customer ${cus}`);
    expect(byCustomer.hasMore).toBe(false);
    expect(byCustomer.data.map((s) => s.created)).toEqual([start + 7]);
  });

  it("lists a customer's PaymentIntents, saying when there are more than one page", async () => {
    const start = now() - HOUR;
    const cus = sim.store.createCustomer({ id: 'cus_N3kWq9ZpY1cD5e' }).id;
    for (let i = 0; i < 3; i++) sim.store.createPaymentIntent({ created: start + i, customer: cus, amount: 900 });
    sim.store.createPaymentIntent({ created: start + 9, amount: 900 });

    const page = await reader.paymentIntentsOf(cus, 2);
    expect(page.what).toBe(`list PaymentIntents of customer ${cus}`);
    expect(page.hasMore).toBe(true);
    expect(page.data.map((pi) => pi.created)).toEqual([start + 2, start + 1]);
    expect(reader.requests).toBe(1);
  });
});
