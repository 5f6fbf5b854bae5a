import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { RateLimiter } from '../../src/stripe/rate-limit.js';
import { isMissing, ReaderStopped, StripeReader } from '../../src/stripe/reader.js';
import { withRetry, type Clock, type RetryPolicy } from '../../src/stripe/retry.js';
import { CliError, StripeAuthError, StripeUnavailableError } from '../../src/errors.js';

const KEY = 'sk_test_retry_tests';

/** A clock whose sleep returns at once and advances time: backoff tests run in milliseconds. */
function fakeClock(random = 1): Clock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    random: () => random,
  };
}

function policy(clock: Clock, budgetMs = 60_000): RetryPolicy {
  return { budgetMs, baseDelayMs: 500, maxDelayMs: 8_000, clock };
}

describe('withRetry against the simulator through the real SDK', () => {
  let sim: StripeSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    sim.store.createPaymentIntent({ created: 1_800_000_000, amount: 100 });
  });
  afterAll(() => sim.close());

  const client = () => createStripeClient({ apiKey: KEY, apiBase: sim.url });

  it('retries 429 (which the SDK does not) and 500 with doubling backoff, then succeeds', async () => {
    const clock = fakeClock();
    sim.failNext(2, '429');
    sim.failNext(2, '500');
    const stripe = client();
    const page = await withRetry('list PaymentIntents', () => stripe.paymentIntents.list({ limit: 1 }), policy(clock));
    expect(page.data).toHaveLength(1);
    expect(clock.slept).toEqual([500, 1000, 2000, 4000]);
  });

  it("a 429 through the reader slows the rate limiter's lane for that endpoint, and the global one", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ global: 95, perEndpoint: 24 }, clock);
    const reader = new StripeReader(client(), policy(clock), 'sk_test_…', limiter);
    sim.failNext(2, '429');
    const page = await reader.call(
      'list PaymentIntents',
      () => reader.stripe.paymentIntents.list({ limit: 1 }),
      'payment_intents.list',
    );
    expect(page.data).toHaveLength(1);
    // The retry's 429 came half a second after the first (the fake clock's backoffs are 0.5 s and
    // 1 s): one cut by a quarter, and no recovery yet, a second after the last 429. The global rate
    // trimmed by a tenth; another endpoint keeps its rate.
    expect(limiter.rateFor('payment_intents.list')).toBe(18);
    expect(limiter.rates().global).toBeCloseTo(95 * 0.9);
    expect(limiter.rateFor('sessions.list')).toBe(24);
    expect(reader.requests).toBe(3);
  });

  it('retries connection resets', async () => {
    const clock = fakeClock();
    sim.failNext(4, 'reset'); // the SDK itself retries a reset once
    const stripe = client();
    const page = await withRetry('list PaymentIntents', () => stripe.paymentIntents.list({ limit: 1 }), policy(clock));
    expect(page.data).toHaveLength(1);
    expect(clock.slept.length).toBeGreaterThanOrEqual(1);
  });

  it('caps each delay and gives up once the time budget is spent, naming the request id', async () => {
    const clock = fakeClock();
    sim.setFaults({ rate500: 1 });
    const stripe = client();
    const err = await withRetry(
      'list PaymentIntents',
      () => stripe.paymentIntents.list({ limit: 1 }),
      policy(clock, 60_000),
    ).catch((e) => e);
    sim.setFaults({ rate500: 0 });
    expect(err).toBeInstanceOf(StripeUnavailableError);
    expect((err as CliError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(
      /could not list PaymentIntents after \d+ attempts over \d+s: HTTP 500.*\(last request req_/,
    );
    expect(Math.max(...clock.slept)).toBe(8000);
    expect(clock.now()).toBeLessThanOrEqual(60_000);
    expect(clock.now()).toBeGreaterThan(45_000);
  });

  it('uses full jitter: a delay is random within its cap', async () => {
    const clock = fakeClock(0.25);
    sim.failNext(3, '500');
    const stripe = client();
    await withRetry('list PaymentIntents', () => stripe.paymentIntents.list({ limit: 1 }), policy(clock));
    expect(clock.slept).toEqual([125, 250, 500]);
  });

  it('does not retry a rejected key: exit 2 at once, the key masked', async () => {
    const clock = fakeClock();
    const stripe = createStripeClient({ apiKey: 'sk_test_notTheRightKey1234', apiBase: sim.url });
    const err = await withRetry(
      'list PaymentIntents',
      () => stripe.paymentIntents.list({ limit: 1 }),
      policy(clock),
      'sk_test_****1234',
    ).catch((e) => e);
    expect(err).toBeInstanceOf(StripeAuthError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as Error).message).toBe('Stripe rejected the API key sk_test_****1234 (HTTP 401)');
    expect(clock.slept).toEqual([]);
  });

  it('does not retry a request Stripe refuses (400)', async () => {
    const clock = fakeClock();
    const stripe = client();
    const err = await withRetry(
      'list PaymentIntents',
      () => stripe.paymentIntents.list({ limit: 1, status: 'succeeded' } as never),
      policy(clock),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(
      /Stripe refused to list PaymentIntents: HTTP 400: Received unknown parameter: status/,
    );
    expect(clock.slept).toEqual([]);
  });

  it('an object Stripe does not have fails that request only; a failure for good stops the reader, and its replay is never "missing"', async () => {
    const clock = fakeClock();
    const reader = new StripeReader(client(), policy(clock, 5_000), 'sk_test_…');
    const retrieve = (id: string) =>
      reader.call(`retrieve ${id}`, () => reader.stripe.paymentIntents.retrieve(id), 'payment_intents.retrieve');
    const missing = await retrieve('pi_3MissingXyz0000000000000').catch((e) => e);
    expect(isMissing(missing)).toBe(true);
    await expect(reader.firstAnswer()).resolves.toBeUndefined(); // Stripe answered: the key works
    const page = await reader.call(
      'list PaymentIntents',
      () => reader.stripe.paymentIntents.list({ limit: 1 }),
      'payment_intents.list',
    );
    expect(page.data).toHaveLength(1);

    sim.setFaults({ rate500: 1 });
    const outage = await retrieve('pi_3MissingXyz0000000000000').catch((e) => e);
    sim.setFaults({ rate500: 0 });
    expect(outage).toBeInstanceOf(StripeUnavailableError);
    const made = reader.requests;
    const replay = await retrieve('pi_3MissingXyz0000000000000').catch((e) => e);
    expect(replay).toBeInstanceOf(ReaderStopped);
    expect(isMissing(replay)).toBe(false);
    expect(replay).toMatchObject({ exitCode: 1, message: (outage as Error).message });
    expect(reader.requests).toBe(made);
  });
});
