import { describe, expect, it } from 'vitest';
import { FailureLimiter } from '../../src/console/security.js';

/** The sign-in limiter's memory: keys that left the window are dropped, whatever the keys were. */
describe('FailureLimiter', () => {
  it('forgets keys whose failures left the window, so made-up names do not pile up', () => {
    const limiter = new FailureLimiter(3, 60_000);
    const start = 1_700_000_000_000;
    for (let i = 0; i < 500; i++) expect(limiter.attempt([`account:guess${i}`], start + i)).toBe(true);
    expect(limiter.keys).toBe(500);
    expect(limiter.attempt(['account:later'], start + 120_000)).toBe(true);
    expect(limiter.keys).toBe(1);
  });

  it('counts an attempt before it is checked, and forgives one that succeeded', () => {
    const limiter = new FailureLimiter(2, 60_000);
    expect(limiter.attempt(['a'], 1)).toBe(true);
    expect(limiter.attempt(['a'], 2)).toBe(true);
    expect(limiter.attempt(['a'], 3)).toBe(false);
    limiter.forgive(['a'], 2);
    expect(limiter.attempt(['a'], 4)).toBe(true);
  });
});
