import { describe, expect, it } from 'vitest';
import { sortIndexes } from '../../src/plan/sort-indexes.js';

describe('sortIndexes', () => {
  const cases: Record<string, number[]> = {
    empty: [],
    one: [5],
    random: Array.from({ length: 5000 }, (_, i) => (i * 7919) % 1009),
    sorted: Array.from({ length: 3000 }, (_, i) => i),
    reversed: Array.from({ length: 3000 }, (_, i) => 3000 - i),
    'all equal': Array.from({ length: 2000 }, () => 7),
    'two values': Array.from({ length: 2000 }, (_, i) => i % 2),
  };
  for (const [name, values] of Object.entries(cases)) {
    it(`orders indexes as Array.prototype.sort does (${name}), ties by index`, () => {
      const cmp = (a: number, b: number) => values[a]! - values[b]! || a - b;
      const order = Uint32Array.from(values.keys());
      sortIndexes(order, cmp);
      expect([...order]).toEqual([...values.keys()].sort(cmp));
    });
  }
});
