import type { Clock } from './retry.js';

export interface RateLimits {
  /** Requests per second across all endpoints. */
  global: number;
  /** Requests per second to any one endpoint. */
  perEndpoint: number;
}

/**
 * Just below Stripe's documented limits: 100 requests a second in live mode and 25 in test mode,
 * and by default 25 a second per endpoint (the list endpoints this tool leans on).
 */
export function defaultRateLimits(live: boolean): RateLimits {
  return live ? { global: 90, perEndpoint: 22 } : { global: 22, perEndpoint: 20 };
}

interface Lane {
  /** The configured rate: what the lane recovers to. */
  max: number;
  rate: number;
  /** When the next request may start (ms, clock time). */
  next: number;
  lastPenalty: number;
}

/**
 * Paces requests so that neither the global rate nor any endpoint's rate is exceeded: each request
 * is given the earliest start that both its lanes allow, spaced 1/rate apart (no bursts). A 429 halves
 * the rate of the lane that hit it (and trims the global one); the rate then creeps back up.
 */
export class RateLimiter {
  private readonly global: Lane;
  private readonly lanes = new Map<string, Lane>();
  /** Start times of requests given out, sorted (global lane). */
  private readonly reserved: number[] = [];

  constructor(
    private readonly limits: RateLimits,
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
  ) {
    this.global = { max: limits.global, rate: limits.global, next: 0, lastPenalty: -Infinity };
  }

  private lane(endpoint: string): Lane {
    let l = this.lanes.get(endpoint);
    if (!l) {
      l = { max: this.limits.perEndpoint, rate: this.limits.perEndpoint, next: 0, lastPenalty: -Infinity };
      this.lanes.set(endpoint, l);
    }
    return l;
  }

  private recover(l: Lane, now: number): void {
    if (l.rate < l.max && now - l.lastPenalty > 1000) {
      // Additive increase: a tenth of the configured rate per second since the last 429.
      l.rate = Math.min(l.max, l.rate + (l.max / 10) * ((now - l.lastPenalty) / 1000));
      l.lastPenalty = now;
    }
  }

  /** Waits until a request to `endpoint` may start. */
  async acquire(endpoint: string): Promise<void> {
    const now = this.clock.now();
    const lane = this.lane(endpoint);
    this.recover(lane, now);
    this.recover(this.global, now);
    const start = this.globalSlot(Math.max(now, lane.next), now);
    lane.next = start + 1000 / lane.rate;
    if (start > now) await this.clock.sleep(start - now);
  }

  /**
   * The earliest start at or after `t` that keeps every two requests at least 1/globalRate apart.
   * Reservations are kept sorted: an endpoint whose own lane is free uses an earlier gap instead of
   * queueing behind another endpoint's far-off reservation.
   */
  private globalSlot(t: number, now: number): number {
    const gap = 1000 / this.global.rate;
    const r = this.reserved;
    while (r.length > 0 && r[0]! < now - gap) r.shift();
    let i = 0;
    while (i < r.length && r[i]! <= t - gap) i++;
    for (; i < r.length; i++) {
      if (r[i]! - t >= gap) break; // fits before reservation i
      t = Math.max(t, r[i]! + gap);
    }
    r.splice(i, 0, t);
    return t;
  }

  /** Stripe answered 429: slow down. */
  rateLimited(endpoint: string): void {
    const now = this.clock.now();
    const lane = this.lane(endpoint);
    lane.rate = Math.max(1, lane.rate / 2);
    lane.lastPenalty = now;
    this.global.rate = Math.max(1, this.global.rate * 0.8);
    this.global.lastPenalty = now;
  }

  /** The rate a request to `endpoint` can go at now (the smaller of its lane and the global one). */
  rateFor(endpoint: string): number {
    return Math.min(this.lane(endpoint).rate, this.global.rate);
  }

  /** Current rates, for --verbose and the bench. */
  rates(): { global: number; endpoints: Record<string, number> } {
    return { global: this.global.rate, endpoints: Object.fromEntries([...this.lanes].map(([k, l]) => [k, l.rate])) };
  }
}
