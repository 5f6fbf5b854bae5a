import type { Window } from './types.js';

/** A first run (no cursor yet) covers this much (SPEC). */
export const FIRST_RUN_SECONDS = 30 * 86400;
/**
 * A window scan that continues from a cursor starts this long before it, so that ACH and SEPA
 * debits, whose PaymentIntent is created days before it settles, are inside the window.
 */
export const CONTINUE_LOOKBACK_SECONDS = 14 * 86400;
/** Stripe keeps events for 30 days. */
const EVENTS_RETENTION_SECONDS = 30 * 86400;
/** Events are read from a little before the cursor: an event becomes listable shortly after its `created`. */
export const EVENTS_OVERLAP_SECONDS = 10 * 60;
/** Keep clear of the retention edge: an event about to expire might vanish between pages. */
const RETENTION_MARGIN_SECONDS = 3600;
/**
 * Every run decides again the payments left pending or in review that were paid this recently: an
 * incremental run from what was recorded of them, a window run by re-reading them by id.
 */
export const RECHECK_SECONDS = 30 * 86400;

export type Source = 'window' | 'events';

export interface SourcePlan {
  source: Source;
  window: Window;
  /** What a person should know about how the window was chosen (a gap, a first run). */
  notes: string[];
  /**
   * A scan by payment time that will move the cursor must also read the events since the cursor:
   * a payment created before its window may have settled (or been refunded) since the last run.
   */
  alsoEvents: Window | null;
}

/** Where reading events from the cursor starts, or null when Stripe no longer keeps them. */
function eventsFrom(cursor: number, now: number): number | null {
  const from = cursor - EVENTS_OVERLAP_SECONDS;
  return now - from < EVENTS_RETENTION_SECONDS - RETENTION_MARGIN_SECONDS ? from : null;
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString();
}

/**
 * How a run finds its payments. With --since: a scan by payment time. Otherwise it continues from
 * the cursor through the Events API (requests in proportion to what is new), unless the cursor is
 * older than Stripe keeps events: then it scans by payment time from before the cursor, and says so.
 */
export function planSource(input: { since?: number; until: number; now: number; cursor: number | null }): SourcePlan {
  const { since, until, now, cursor } = input;
  if (since !== undefined) {
    const from = cursor !== null && since <= cursor ? eventsFrom(cursor, now) : null;
    return {
      source: 'window',
      window: { since, until },
      notes: [],
      alsoEvents: from !== null && from < until ? { since: from, until } : null,
    };
  }
  if (cursor === null) {
    return {
      source: 'window',
      window: { since: until - FIRST_RUN_SECONDS, until },
      notes: [`no earlier finished run: scanning the last ${FIRST_RUN_SECONDS / 86400} days by payment time`],
      alsoEvents: null,
    };
  }
  const from = eventsFrom(cursor, now);
  if (from !== null) return { source: 'events', window: { since: from, until }, notes: [], alsoEvents: null };
  const scanFrom = cursor - CONTINUE_LOOKBACK_SECONDS;
  return {
    source: 'window',
    window: { since: scanFrom, until },
    notes: [
      `the last finished run ended at ${iso(cursor)}, longer ago than the ${EVENTS_RETENTION_SECONDS / 86400} days Stripe keeps events: scanning payments by time from ${iso(scanFrom)} instead`,
    ],
    alsoEvents: null,
  };
}
