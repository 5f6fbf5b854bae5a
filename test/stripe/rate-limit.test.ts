import { describe, expect, it } from 'vitest';
import { RateLimiter, defaultRateLimits } from '../../src/stripe/rate-limit.js';

/**
 * A virtual event loop: sleeping registers a timer, and `run` fires the timers in time order,
 * letting every promise settle after each one. A stall (the event loop busy from `from` to `to`)
 * fires the timers due in it late, all at `to`, one after the other: what a real loop does after a
 * long synchronous task.
 */
class VirtualLoop {
  t = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fire: () => void }[] = [];
  readonly clock = {
    now: () => this.t,
    sleep: (ms: number) =>
      new Promise<void>((fire) => this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, fire })),
  };

  async run(stall?: { from: number; to: number }): Promise<void> {
    await settle();
    while (this.timers.length > 0) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.at);
      if (stall && this.t >= stall.from && this.t < stall.to) this.t = stall.to;
      next.fire();
      await settle();
    }
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

/**
 * Asks for `n` requests per endpoint at time 0, alternating, and returns when each actually
 * started (the clock when acquire returned).
 */
async function starts(
  limiter: RateLimiter,
  loop: VirtualLoop,
  endpoints: string[],
  n: number,
  stall?: { from: number; to: number },
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const e of endpoints) out[e] = [];
  for (let i = 0; i < n; i++) {
    for (const e of endpoints) void limiter.acquire(e).then(() => out[e]!.push(loop.clock.now()));
  }
  await loop.run(stall);
  for (const e of endpoints) expect(out[e]).toHaveLength(n);
  return out;
}

/** The most starts in any sliding second `(t - 1000, t]`, as Stripe counts them (give or take float rounding of the virtual times). */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - 1000 + 1e-6) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('RateLimiter', () => {
  it('defaults sit just below Stripe’s limits', () => {
    expect(defaultRateLimits(true)).toEqual({ global: 95, perEndpoint: 24 });
    expect(defaultRateLimits(false)).toEqual({ global: 22, perEndpoint: 20 });
  });

  it('paces each endpoint at its own rate, and two endpoints do not slow each other under the global rate', async () => {
    const loop = new VirtualLoop();
    const limiter = new RateLimiter({ global: 90, perEndpoint: 22 }, loop.clock);
    const s = await starts(limiter, loop, ['sessions', 'intents'], 44);
    for (const e of ['sessions', 'intents']) {
      const times = s[e]!;
      // 44 requests at 22/s: the last starts about 2 s after the first, each ~45 ms after the previous.
      expect(times[43]! - times[0]!).toBeCloseTo((43 * 1000) / 22, 0);
    }
  });

  it('an endpoint with a free lane is not queued behind another endpoint’s backlog', async () => {
    const loop = new VirtualLoop();
    const limiter = new RateLimiter({ global: 90, perEndpoint: 22 }, loop.clock);
    const sessions: number[] = [];
    for (let i = 0; i < 11; i++) void limiter.acquire('sessions').then(() => sessions.push(loop.clock.now())); // eleven slices ask at once
    let intent = -1;
    void limiter.acquire('intents').then(() => (intent = loop.clock.now()));
    await loop.run();
    expect(sessions[10]).toBeCloseTo((10 * 1000) / 22, 0);
    expect(intent).toBeGreaterThanOrEqual(0);
    expect(intent).toBeLessThan(50); // not after the sessions' last reservation
  });

  it('holds the global rate when the endpoints together would exceed it', async () => {
    const loop = new VirtualLoop();
    const limiter = new RateLimiter({ global: 30, perEndpoint: 22 }, loop.clock);
    const s = await starts(limiter, loop, ['a', 'b'], 30);
    const all = [...s.a!, ...s.b!].sort((x, y) => x - y);
    for (let i = 1; i < all.length; i++) expect(all[i]! - all[i - 1]!).toBeGreaterThanOrEqual(1000 / 30 - 1e-9);
    expect(all[all.length - 1]! - all[0]!).toBeCloseTo((59 * 1000) / 30, 0);
    expect(busiestSecond(all)).toBeLessThanOrEqual(30);
  });

  it('after a stall of the event loop, no second holds more starts than the rate, and the late ones do not go out in a bunch', async () => {
    // 10 a second, 40 requests asked at once; the event loop is busy from 450 ms to 900 ms, so the
    // requests planned for 500-800 ms wake together at 900 ms. Started then, they would crowd the
    // second after (900-1800 ms holds its own 10 planned starts): 14 in one second.
    const loop = new VirtualLoop();
    const limiter = new RateLimiter({ global: 100, perEndpoint: 10 }, loop.clock);
    const s = await starts(limiter, loop, ['sessions'], 40, { from: 450, to: 900 });
    const times = s.sessions!;
    expect(busiestSecond(times)).toBeLessThanOrEqual(10);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100 / 2);
    // …and the stall costs no more than itself: the 40th starts about 0.45 s later than 3.9 s.
    expect(times[39]!).toBeLessThanOrEqual(3900 + 450 + 1e-9);
  });

  it('the global rate holds after a stall too', async () => {
    const loop = new VirtualLoop();
    const limiter = new RateLimiter({ global: 20, perEndpoint: 15 }, loop.clock);
    const s = await starts(limiter, loop, ['a', 'b'], 30, { from: 700, to: 1300 });
    expect(busiestSecond([...s.a!, ...s.b!])).toBeLessThanOrEqual(20);
    expect(busiestSecond(s.a!)).toBeLessThanOrEqual(15);
    expect(busiestSecond(s.b!)).toBeLessThanOrEqual(15);
  });

  it('a 429 cuts the endpoint’s rate by a quarter and trims the global one', () => {
    const limiter = new RateLimiter({ global: 90, perEndpoint: 24 }, new VirtualLoop().clock);
    limiter.rateLimited('sessions');
    expect(limiter.rateFor('sessions')).toBe(18);
    expect(limiter.rates().global).toBeCloseTo(81);
    expect(limiter.rateFor('intents')).toBe(24);
  });

  it('the 429s of requests in flight together cut once; 429s that go on compound, a second apart', () => {
    const loop = new VirtualLoop();
    const limiter = new RateLimiter({ global: 90, perEndpoint: 24 }, loop.clock);
    // Eight requests sent at the old rate all come back 429.
    for (let i = 0; i < 8; i++) limiter.rateLimited('sessions');
    expect(limiter.rateFor('sessions')).toBe(18);
    // Another client keeps taking the limit: 429s every half second hold the recovery back, and
    // every second cuts again.
    for (let i = 0; i < 4; i++) {
      loop.t += 500;
      limiter.rateLimited('sessions');
    }
    expect(limiter.rateFor('sessions')).toBeCloseTo(24 * 0.75 ** 3);
  });
});
