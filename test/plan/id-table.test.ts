import { describe, expect, it } from 'vitest';
import { IdSet, IdTable } from '../../src/plan/id-table.js';

// The default chunks, and chunks small enough that ids span many of them, some longer than one.
describe.each([undefined, 16, 64, 1024])('IdTable (chunks of %s bytes)', (chunkBytes) => {
  const ids: (string | null)[] = ['a', 'b', null, 'pi_3xyz', 'é€😀x', 'a', `cs_live_${'z'.repeat(300)}`, ''];
  for (let n = 0; n < 5000; n++) ids.push(`pi_${(n * 7919) % 3000}`);
  ids.push('', `cs_live_${'y'.repeat(70)}`, null, '', 'pi_last');
  const table = new IdTable({ chunkBytes });
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

  it('indexes ids pushed once it is indexed, ASCII or not (hashed as they are copied, or after)', () => {
    const t = new IdTable({ chunkBytes });
    t.push('first');
    expect(t.has('first')).toBe(true); // the index exists from here on
    const late = ['pi_3Ab', 'pi_é', 'ab😀', '', 'pi_3Ab', `cs_live_${'q'.repeat(90)}`, 'x€'];
    for (const id of late) t.push(id);
    for (const id of late) expect(t.indexOf(id)).toBe(late.indexOf(id) + 1);
    for (const q of ['pi_3A', 'pi_e', 'ab']) expect(t.has(q)).toBe(false);
  });

  it('compares as strings compare', () => {
    const at = ids.map((id, i) => [id, i] as const).filter(([id]) => id !== null);
    for (let k = 0; k < 3000; k++) {
      const [x, i] = at[k % at.length]!;
      const [y, j] = at[(k * 31) % at.length]!;
      expect(Math.sign(table.compare(i, j))).toBe(x! < y! ? -1 : x! > y! ? 1 : 0);
    }
  });

  it('sortKeys: a smaller number is a smaller id, past the bytes every id starts with; none for nulls or beyond ASCII', () => {
    // Shorter ids, ids that are prefixes of others, ids equal in their first six differing bytes.
    const ascii = [
      'pi_3',
      'pi_3a',
      'pi_3abcdefZ',
      'pi_3abcdefA',
      'pi_3A',
      'pi_3b',
      'pi_3abcdef',
      'pi_3\u0001',
      'pi_3zzzzzzzzzz',
      'pi_3',
    ];
    for (let n = 0; n < 2000; n++) ascii.push(`pi_3${((n * 7919) % 5000).toString(36)}`);
    const t = new IdTable({ chunkBytes });
    for (const id of ascii) t.push(id);
    const keys = t.sortKeys()!;
    for (let i = 0; i < ascii.length; i++)
      for (let j = 0; j < ascii.length; j += 37) if (keys[i]! < keys[j]!) expect(ascii[i]! < ascii[j]!).toBe(true);
    // Sorted by the numbers, then compare(): string order.
    const order = ascii.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]! || t.compare(a, b));
    expect(order.map((i) => ascii[i])).toEqual([...ascii].sort());
    // The common prefix is skipped: ids differing only past their sixth byte still get distinct numbers.
    const long = new IdTable({ chunkBytes });
    for (const id of ['cs_live_a1AAAAAAAAAAx', 'cs_live_a1AAAAAAAAAAy', 'cs_live_a1AAAAAAAAAAz']) long.push(id);
    expect(new Set(long.sortKeys()).size).toBe(3);
    expect(table.sortKeys()).toBeNull(); // holds a null and 'é€😀x'
    const accented = new IdTable();
    accented.push('pi_a');
    accented.push('pi_é');
    expect(accented.sortKeys()).toBeNull();
  });
});

describe('IdTable memory', () => {
  it('holds about the bytes of its ids: chunks, not a buffer doubled (up to twice their size)', () => {
    const table = new IdTable();
    let bytes = 0;
    for (let n = 0; n < 20000; n++) {
      const id = `cs_live_a1${String(n).padStart(56, '0')}`;
      table.push(id);
      bytes += id.length;
    }
    expect(table.get(19999)).toBe(`cs_live_a1${'19999'.padStart(56, '0')}`);
    expect(table.bytesHeld).toBeGreaterThanOrEqual(bytes);
    expect(table.bytesHeld).toBeLessThan(bytes * 1.25);
  });
});

describe('IdSet', () => {
  it('answers has for what was added, twice or not, and nothing else', () => {
    const set = new IdSet();
    for (const id of ['pi_3MtwBwLkdIwHu7ix28a3tqPa', 'pi_3MtwBwLkdIwHu7ix28a3tqPb', 'pi_3MtwBwLkdIwHu7ix28a3tqPa'])
      set.add(id);
    expect(set.has('pi_3MtwBwLkdIwHu7ix28a3tqPa')).toBe(true);
    expect(set.has('pi_3MtwBwLkdIwHu7ix28a3tqPb')).toBe(true);
    expect(set.has('pi_3MtwBwLkdIwHu7ix28a3tqPc')).toBe(false);
  });
});
