import type { Clock } from './retry.js';

export interface RateLimits {
  /** Requests per second across all endpoints. */
  global: number;
  /** Requests per second to any one endpoint. */
  perEndpoint: number;
}

/**
 * Just below Stripe's documented limits: 100 requests a second in live mode and 25 in test mode,
 * and by default 25 a second per endpoint (the list endpoints this tool leans on). Live: one
 * request a second below the endpoint limit and 5 below the global one; the limiter never lets
 * more than the rate start in any second (even after a stall of the event loop) and spaces the
 * starts, so one request of headroom absorbs the network's jitter. Test mode keeps a wider margin:
 * its one global limit of 25 is shared with whatever else uses the test key (the app's own tests).
 */
export function defaultRateLimits(live: boolean): RateLimits {
  return live ? { global: 95, perEndpoint: 24 } : { global: 22, perEndpoint: 20 };
}

interface Lane {
  /** The configured rate: what the lane recovers to. */
  max: number;
  rate: number;
  /** When the next request may be scheduled to start (ms, clock time): the plan. */
  next: number;
  lastPenalty: number;
  /** When a 429 last cut the rate (ms). */
  lastCut: number;
  /** When requests actually started, oldest first (no older than one second before the newest). */
  started: number[];
}

/** What a 429 leaves of the rate of the endpoint that got it, and of the global rate. */
const LANE_CUT = 0.75;
const GLOBAL_CUT = 0.9;

/** The window Stripe counts requests in (ms). */
const WINDOW_MS = 1000;
/**
 * Two requests of one lane never actually start closer than this fraction of 1/rate: after a stall
 * of the event loop, the requests it held back go out spaced, not all at once (a bunch at one edge
 * of a second would make the count in the server's second depend on network jitter).
 */
const MIN_SPACING = 0.75;

function newLane(rate: number): Lane {
  return { max: rate, rate, next: 0, lastPenalty: -Infinity, lastCut: -Infinity, started: [] };
}

/**
 * Paces requests so that neither the global rate nor any endpoint's rate is exceeded: each request
 * is given the earliest start that both its lanes allow, spaced 1/rate apart (no bursts). That plan
 * is then checked against when requests actually start: a request that wakes late (the event loop
 * was busy) and would make more than the rate start within one second, or start right on the heels
 * of the one before, waits. So no sliding second ever holds more starts than the rate, whatever the
 * event loop does. A 429 cuts the rate of the lane that hit it by a quarter (and trims the global
 * one); the rate then creeps back up.
 */
export class RateLimiter {
  private readonly global: Lane;
  private readonly lanes = new Map<string, Lane>();
  /** Start times of requests given out, sorted (global lane). */
  private readonly reserved: number[] = [];

  constructor(
    /** The configured rates (a 429 lowers a lane for a while, never these). */
    readonly limits: RateLimits,
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
  ) {
    this.global = newLane(limits.global);
  }

  private lane(endpoint: string): Lane {
    let l = this.lanes.get(endpoint);
    if (!l) {
      l = newLane(this.limits.perEndpoint);
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
    let start = this.globalSlot(Math.max(now, lane.next), now);
    lane.next = start + 1000 / lane.rate;
    for (;;) {
      const t = this.clock.now();
      if (start > t) {
        await this.clock.sleep(start - t);
        continue;
      }
      const ready = Math.max(this.readyAt(lane, t), this.readyAt(this.global, t));
      if (ready <= t) {
        this.started(lane, t);
        this.started(this.global, t);
        return;
      }
      start = ready;
    }
  }

  /** The earliest time, by the requests that actually started, that one more may start in `l`. */
  private readyAt(l: Lane, now: number): number {
    const s = l.started;
    while (s.length > 0 && s[0]! <= now - WINDOW_MS) s.shift();
    if (s.length === 0) return now;
    let ready = s[s.length - 1]! + (MIN_SPACING * 1000) / l.rate;
    // No more than `rate` starts in any second: the n-th newest start must have left the window.
    const n = Math.max(1, Math.floor(l.rate));
    if (s.length >= n) ready = Math.max(ready, s[s.length - n]! + WINDOW_MS);
    return ready;
  }

  private started(l: Lane, t: number): void {
    l.started.push(t);
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

  /**
   * Stripe answered 429: slow down, by a quarter, once a second at most. Running just under the
   * limit, a lone 429 is mostly jitter (a stall bunched the requests), and halving for it costs
   * seconds of a sweep; a client that shares the limit keeps answering 429, and the cuts compound
   * (a quarter a second) until it stops. The requests already in flight when the first 429 came
   * were sent at the old rate: their 429s are the same event, not a cut each.
   */
  rateLimited(endpoint: string): void {
    const now = this.clock.now();
    for (const [l, factor] of [
      [this.lane(endpoint), LANE_CUT],
      [this.global, GLOBAL_CUT],
    ] as const) {
      // Every 429 holds the recovery back; only the first of a second cuts.
      l.lastPenalty = now;
      if (now - l.lastCut < WINDOW_MS) continue;
      l.rate = Math.max(1, l.rate * factor);
      l.lastCut = now;
    }
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
