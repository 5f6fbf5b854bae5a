import { UsageError } from './errors.js';

/**
 * Parses SPEC's WHEN: an ISO-8601 date or time (UTC unless it names a zone), unix seconds, or a
 * relative span back from `now` (`36h`, `7d`, `90m`, `2w`). Returns unix seconds.
 */
/** 2011-01-01T00:00:00Z: no Stripe payment is older. */
const STRIPE_EPOCH = 1_293_840_000;

export function parseWhen(input: string, now: number, flag = 'WHEN'): number {
  const s = input.trim();
  // Digits alone are unix seconds, however few (a span always has its unit: 36h, 7d); but a time
  // before Stripe existed is a slip (`7` for `7d`), and as a baseline or a window start it would
  // move the cursor to 1970: refused, saying so.
  if (/^\d{1,11}$/.test(s)) {
    const t = Number(s);
    if (t < STRIPE_EPOCH) {
      throw new UsageError(
        `${flag}: ${s} is unix seconds for ${isoSeconds(t)}, before Stripe existed`,
        `for a span back from now write its unit (${s}d, ${s}h); unix seconds of 2011 or later are taken as they are`,
      );
    }
    return t;
  }
  const rel = /^(\d+)\s*(s|m|h|d|w)$/i.exec(s);
  if (rel) {
    const n = Number(rel[1]);
    const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[rel[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return now - n * unit;
  }
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (iso) {
    const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone] = iso;
    const z = zone
      ? zone.toUpperCase() === 'Z'
        ? 'Z'
        : zone.length === 5
          ? `${zone.slice(0, 3)}:${zone.slice(3)}`
          : zone
      : 'Z';
    const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac}${z}`);
    const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    if (!Number.isNaN(ms) && check.getUTCMonth() === Number(mo) - 1 && check.getUTCDate() === Number(d)) {
      return Math.floor(ms / 1000);
    }
  }
  throw new UsageError(
    `${flag}: cannot read '${input}' as a time`,
    'use an ISO-8601 date or time (2026-11-01, 2026-11-01T14:00:00Z), unix seconds, or a span like 36h or 7d',
  );
}

export function isoSeconds(t: number): string {
  return new Date(t * 1000).toISOString();
}
