import { describe, expect, it } from 'vitest';
import { RateLimiter, defaultRateLimits } from '../../src/stripe/rate-limit.js';

/** Every request is asked for at time 0 and sleeping returns at once: the limiter's start times are the pacing. */
function virtualClock() {
  return { now: () => 0, sleep: async () => {} };
}

/** Asks for `n` requests per endpoint, alternating, and returns the start time the limiter gave each. */
async function starts(limiter: RateLimiter, endpoints: string[], n: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const e of endpoints) out[e] = [];
  const spy = limiter as unknown as { globalSlot(t: number, now: number): number };
  const original = spy.globalSlot.bind(limiter);
  let current = '';
  spy.globalSlot = (t: number, now: number) => {
    const s = original(t, now);
    out[current]!.push(s);
    return s;
  };
  for (let i = 0; i < n; i++) {
    for (const e of endpoints) {
      current = e;
      await limiter.acquire(e);
    }
  }
  return out;
}

describe('RateLimiter', () => {
  it('defaults sit just below Stripe’s limits', () => {
    expect(defaultRateLimits(true)).toEqual({ global: 90, perEndpoint: 22 });
    expect(defaultRateLimits(false)).toEqual({ global: 22, perEndpoint: 20 });
  });

  it('paces each endpoint at its own rate, and two endpoints do not slow each other under the global rate', async () => {
    const limiter = new RateLimiter({ global: 90, perEndpoint: 22 }, virtualClock());
    const s = await starts(limiter, ['sessions', 'intents'], 44);
    for (const e of ['sessions', 'intents']) {
      const times = s[e]!;
      // 44 requests at 22/s: the last starts about 2 s after the first, each ~45 ms after the previous.
      expect(times[43]! - times[0]!).toBeCloseTo((43 * 1000) / 22, 0);
    }
  });

  it('an endpoint with a free lane is not queued behind another endpoint’s backlog', async () => {
    const limiter = new RateLimiter({ global: 90, perEndpoint: 22 }, virtualClock());
    const sessions = await starts(limiter, ['sessions'], 11); // eleven slices ask at once
    const intents = await starts(limiter, ['intents'], 1);
    expect(sessions.sessions![10]).toBeCloseTo((10 * 1000) / 22, 0);
    expect(intents.intents![0]).toBeLessThan(50); // not after the sessions' last reservation
  });

  it('holds the global rate when the endpoints together would exceed it', async () => {
    const limiter = new RateLimiter({ global: 30, perEndpoint: 22 }, virtualClock());
    const s = await starts(limiter, ['a', 'b'], 30);
    const all = [...s.a!, ...s.b!].sort((x, y) => x - y);
    for (let i = 1; i < all.length; i++) expect(all[i]! - all[i - 1]!).toBeGreaterThanOrEqual(1000 / 30 - 1e-9);
    expect(all[all.length - 1]! - all[0]!).toBeCloseTo((59 * 1000) / 30, 0);
  });

  it('a 429 halves the endpoint’s rate and trims the global one', () => {
    const limiter = new RateLimiter({ global: 90, perEndpoint: 22 }, virtualClock());
    limiter.rateLimited('sessions');
    expect(limiter.rateFor('sessions')).toBe(11);
    expect(limiter.rates().global).toBeCloseTo(72);
    expect(limiter.rateFor('intents')).toBe(22);
  });
});
