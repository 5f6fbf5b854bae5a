import { describe, expect, it } from 'vitest';
import { mergeSorted } from '../../src/ledger/ledger.js';

describe('mergeSorted (the ids findCredited looks up)', () => {
  it('merges two sorted lists into one sorted list holding each value once', () => {
    expect(mergeSorted([], [])).toEqual([]);
    expect(mergeSorted(['a'], [])).toEqual(['a']);
    expect(mergeSorted([], ['b', 'b'])).toEqual(['b']);
    expect(mergeSorted(['cs_1', 'pi_1', 'pi_2'], ['cs_0', 'cs_1', 'cs_2'])).toEqual([
      'cs_0',
      'cs_1',
      'cs_2',
      'pi_1',
      'pi_2',
    ]);
    const a = Array.from({ length: 500 }, (_, i) => `k${(i * 7919) % 1000}`).sort();
    const b = Array.from({ length: 500 }, (_, i) => `k${(i * 104729) % 1200}`).sort();
    expect(mergeSorted(a, b)).toEqual([...new Set([...a, ...b])].sort());
  });
});
