import { describe, expect, it } from 'vitest';
import {
  CONTINUE_LOOKBACK_SECONDS,
  EVENTS_OVERLAP_SECONDS,
  FIRST_RUN_SECONDS,
  planSource,
} from '../../src/reconcile/window.js';

const NOW = 1_800_000_000;
const DAY = 86400;

describe('planSource: how a run finds its payments', () => {
  it('--since always scans by payment time, whatever the cursor', () => {
    expect(planSource({ since: NOW - 2 * DAY, until: NOW, now: NOW, cursor: NOW - 600 })).toEqual({
      source: 'window',
      window: { since: NOW - 2 * DAY, until: NOW },
      notes: [],
      alsoEvents: { since: NOW - 600 - EVENTS_OVERLAP_SECONDS, until: NOW },
    });
  });

  it('a --since scan that will move the cursor also reads the events since it; one that leaves a gap does not', () => {
    const cursor = NOW - DAY;
    expect(planSource({ since: cursor - 3600, until: NOW, now: NOW, cursor }).alsoEvents).toEqual({
      since: cursor - EVENTS_OVERLAP_SECONDS,
      until: NOW,
    });
    expect(planSource({ since: cursor + 3600, until: NOW, now: NOW, cursor }).alsoEvents).toBeNull();
    expect(planSource({ since: NOW - 50 * DAY, until: NOW, now: NOW, cursor: NOW - 45 * DAY }).alsoEvents).toBeNull(); // events long gone
    expect(planSource({ since: NOW - 2 * DAY, until: NOW, now: NOW, cursor: null }).alsoEvents).toBeNull();
  });

  it('a first run (no cursor) scans the last 30 days and says so', () => {
    const p = planSource({ until: NOW, now: NOW, cursor: null });
    expect(p.source).toBe('window');
    expect(p.window).toEqual({ since: NOW - FIRST_RUN_SECONDS, until: NOW });
    expect(p.notes[0]).toMatch(/no earlier finished run/);
  });

  it.each([
    ['five minutes ago', 300],
    ['a week ago', 7 * DAY],
    ['28 days ago', 28 * DAY],
  ])('a cursor from %s continues through events from a little before it', (_label, age) => {
    const cursor = NOW - age;
    expect(planSource({ until: NOW, now: NOW, cursor })).toEqual({
      source: 'events',
      window: { since: cursor - EVENTS_OVERLAP_SECONDS, until: NOW },
      notes: [],
      alsoEvents: null,
    });
  });

  it.each([
    ['exactly at the retention edge', 30 * DAY - EVENTS_OVERLAP_SECONDS],
    ['40 days ago', 40 * DAY],
  ])(
    'a cursor from %s is a gap the events cannot cover: a window scan from before it, said out loud',
    (_label, age) => {
      const cursor = NOW - age;
      const p = planSource({ until: NOW, now: NOW, cursor });
      expect(p.source).toBe('window');
      expect(p.window).toEqual({ since: cursor - CONTINUE_LOOKBACK_SECONDS, until: NOW });
      expect(p.notes[0]).toMatch(/longer ago than the 30 days Stripe keeps events/);
    },
  );
});
