import { describe, expect, it } from 'vitest';
import { IdTable } from '../../src/reconcile/id-table.js';

describe('IdTable', () => {
  const ids: (string | null)[] = ['a', 'b', null, 'pi_3xyz', 'é€😀x', 'a', `cs_live_${'z'.repeat(300)}`, ''];
  for (let n = 0; n < 5000; n++) ids.push(`pi_${(n * 7919) % 3000}`);
  const table = new IdTable();
  for (const id of ids) table.push(id);

  it('gives back every id, nulls included', () => {
    expect(table.length).toBe(ids.length);
    for (let i = 0; i < ids.length; i++) expect(table.get(i)).toBe(ids[i]);
  });

  it('finds the first index of an id, and only ids it holds', () => {
    for (const id of ids) if (id !== null) expect(table.indexOf(id)).toBe(ids.indexOf(id));
    for (const q of ['zz', 'pi_3001', 'é€😀', '', 'a', 'pi_', 'null']) expect(table.has(q)).toBe(ids.includes(q));
    table.push('late');
    expect(table.has('late')).toBe(true);
  });

  it('compares as strings compare', () => {
    const at = ids.map((id, i) => [id, i] as const).filter(([id]) => id !== null);
    for (let k = 0; k < 3000; k++) {
      const [x, i] = at[k % at.length]!;
      const [y, j] = at[(k * 31) % at.length]!;
      expect(Math.sign(table.compare(i, j))).toBe(x! < y! ? -1 : x! > y! ? 1 : 0);
    }
  });
});
