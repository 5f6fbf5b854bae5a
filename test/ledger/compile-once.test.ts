import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Statement } from '../../src/ledger/compile-once.js';
import type { OpenDb } from '../../src/ledger/db.js';
import { openTempLedger } from '../helpers/ledger.js';

/** Statement: Kysely compiles a shape once; later calls bind their own values to its SQL text. */
describe('Statement (compiled once per shape)', () => {
  let open: OpenDb;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ open, close } = await openTempLedger(
      "INSERT INTO users VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B'), (3, 'c@x', 'C')",
    ));
  });
  afterEach(() => close());

  /** A lookup of users by id, counting how often each list length is compiled. */
  function lookup(params: (ids: readonly number[]) => readonly unknown[] = (ids) => ids) {
    const compiles = new Map<number, number>();
    const statement = new Statement((db, ids: readonly number[]) => {
      compiles.set(ids.length, (compiles.get(ids.length) ?? 0) + 1);
      return sql<{ email: string }>`SELECT email FROM users WHERE id IN (${sql.join(ids)}) ORDER BY id`.compile(db);
    }, params);
    const run = async (ids: number[]) => (await statement.run(open.db, ids)).rows.map((r) => r.email);
    const total = () => [...compiles.values()].reduce((a, b) => a + b, 0);
    return { run, compiles, total };
  }

  it('compiles a shape once and binds each call its own values', async () => {
    const { run, total } = lookup();
    expect(await run([1, 2])).toEqual(['a@x', 'b@x']);
    expect(await run([2, 3])).toEqual(['b@x', 'c@x']);
    expect(await run([3, 9])).toEqual(['c@x']);
    expect(total()).toBe(1);
    // Another length is another shape.
    expect(await run([1, 2, 3])).toEqual(['a@x', 'b@x', 'c@x']);
    expect(total()).toBe(2);
  });

  it('keeps a shape in use while many others are used once', async () => {
    const { run, compiles } = lookup();
    await run([1, 2]);
    for (let n = 3; n <= 152; n++) {
      await run(Array.from({ length: n }, (_, i) => i + 1));
      expect(await run([1, 2])).toEqual(['a@x', 'b@x']);
    }
    expect(compiles.get(2)).toBe(1);
  });

  it('never reuses a shape whose parameters are not the ones given, in that order', async () => {
    const { run, total } = lookup((ids) => [...ids].reverse());
    expect(await run([1, 2])).toEqual(['a@x', 'b@x']);
    expect(await run([2, 3])).toEqual(['b@x', 'c@x']);
    expect(total()).toBe(2);
  });

  it('tells shapes apart by every argument: a list by its length, anything else by its value', async () => {
    let compiles = 0;
    const byColumn = new Statement(
      (db, column: 'email' | 'name', ids: readonly number[]) => {
        compiles++;
        return sql<{
          v: string;
        }>`SELECT ${sql.ref(column)} AS v FROM users WHERE id IN (${sql.join(ids)}) ORDER BY id`.compile(db);
      },
      (_column, ids) => ids,
    );
    const run = async (column: 'email' | 'name', ids: number[]) =>
      (await byColumn.run(open.db, column, ids)).rows.map((r) => r.v);
    expect(await run('email', [1, 2])).toEqual(['a@x', 'b@x']);
    expect(await run('name', [1, 2])).toEqual(['A', 'B']);
    expect(await run('email', [2, 3])).toEqual(['b@x', 'c@x']);
    expect(compiles).toBe(2);
  });
});
