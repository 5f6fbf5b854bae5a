import { describe, expect, it } from 'vitest';
import { chunks, ladderChunks, ladderSize, padToLadder, paddedChunks } from '../../src/ledger/chunks.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('lists cut to a few sizes (one prepared statement each)', () => {
  it('ladderSize: powers of two below the most, and the most', () => {
    expect([0, 1, 2, 3, 5, 100, 512, 513, 999, 1000, 1500].map((n) => ladderSize(n, 1000))).toEqual([
      1, 1, 2, 4, 8, 128, 512, 1000, 1000, 1000, 1000,
    ]);
  });

  it('padded lookups: every element still there, sizes from the ladder only, order kept', () => {
    const sizes = new Set<number>();
    for (let n = 1; n <= 2_100; n += 7) {
      const items = range(n);
      const parts = paddedChunks(items, 1000);
      for (const p of parts) {
        sizes.add(p.length);
        expect([...p].sort((a, b) => a - b)).toEqual(p);
      }
      expect(new Set(parts.flat())).toEqual(new Set(items));
    }
    expect([...sizes].sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]);
    expect(padToLadder([] as number[], 1000)).toEqual([]);
    expect(padToLadder(['a', 'b', 'c'], 1000)).toEqual(['a', 'b', 'c', 'c']);
  });

  it('ladder inserts: each row once, in order, in parts of the most or powers of two', () => {
    for (const n of [0, 1, 7, 909, 1000, 1001, 2047, 3500]) {
      const parts = ladderChunks(range(n), 1000);
      expect(parts.flat()).toEqual(range(n));
      for (const p of parts) expect(p.length === 1000 || (p.length & (p.length - 1)) === 0).toBe(true);
      // No more parts than a whole part per 1,000 and one per bit of the rest.
      expect(parts.length).toBeLessThanOrEqual(Math.floor(n / 1000) + 10);
    }
    expect(ladderChunks(range(909), 1000).map((p) => p.length)).toEqual([512, 256, 128, 8, 4, 1]);
    expect(chunks(range(5), 2).map((p) => p.length)).toEqual([2, 2, 1]);
  });
});
