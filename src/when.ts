import { UsageError } from './errors.js';

/**
 * Parses SPEC's WHEN: an ISO-8601 date or time (UTC unless it names a zone), unix seconds, or a
 * relative span back from `now` (`36h`, `7d`, `90m`, `2w`). Returns unix seconds.
 */
export function parseWhen(input: string, now: number, flag = 'WHEN'): number {
  const s = input.trim();
  // Digits alone are unix seconds, however few (a span always has its unit: 36h, 7d).
  if (/^\d{1,11}$/.test(s)) return Number(s);
  const rel = /^(\d+)\s*(s|m|h|d|w)$/i.exec(s);
  if (rel) {
    const n = Number(rel[1]);
    const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[rel[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return now - n * unit;
  }
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (iso) {
    const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone] = iso;
    const z = zone ? (zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone) : 'Z';
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
