import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compiledOnce } from '../../src/ledger/compile-once.js';
import type { OpenDb } from '../../src/ledger/db.js';
import { openTempLedger } from '../helpers/ledger.js';

/** compiledOnce: Kysely compiles a shape once; later calls bind their own values to its SQL text. */
describe('compiledOnce', () => {
  let open: OpenDb;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ open, close } = await openTempLedger(
      "INSERT INTO users VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B'), (3, 'c@x', 'C')",
    ));
  });
  afterEach(() => close());

  const query = (ids: number[]) => ({
    compile: () =>
      sql<{ email: string }>`SELECT email FROM users WHERE id IN (${sql.join(ids)}) ORDER BY id`.compile(open.db),
  });
  const emails = (rows: Array<{ email: string }>) => rows.map((r) => r.email);

  it('compiles a shape once and binds each call its own values', async () => {
    let compiles = 0;
    const run = (ids: number[]) =>
      compiledOnce(open.db, `test users|${ids.length}`, ids, () => {
        compiles++;
        return query(ids).compile();
      });
    expect(emails((await run([1, 2])).rows)).toEqual(['a@x', 'b@x']);
    expect(emails((await run([2, 3])).rows)).toEqual(['b@x', 'c@x']);
    expect(emails((await run([3, 9])).rows)).toEqual(['c@x']);
    expect(compiles).toBe(1);
    // Another length is another shape.
    expect(emails((await run([1, 2, 3])).rows)).toEqual(['a@x', 'b@x', 'c@x']);
    expect(compiles).toBe(2);
  });

  it('keeps a shape in use while many others are used once', async () => {
    let hot = 0;
    const hotRun = () =>
      compiledOnce(open.db, 'test users hot|2', [1, 2], () => {
        hot++;
        return query([1, 2]).compile();
      });
    await hotRun();
    for (let n = 1; n <= 150; n++) {
      const ids = Array.from({ length: n }, (_, i) => i + 1);
      await compiledOnce(open.db, `test users once|${n}`, ids, () => query(ids).compile());
      expect(emails((await hotRun()).rows)).toEqual(['a@x', 'b@x']);
    }
    expect(hot).toBe(1);
  });

  it('never reuses a shape whose parameters are not the ones given, in that order', async () => {
    let compiles = 0;
    const run = (ids: number[]) =>
      compiledOnce(open.db, `test users reversed|${ids.length}`, [...ids].reverse(), () => {
        compiles++;
        return query(ids).compile();
      });
    expect(emails((await run([1, 2])).rows)).toEqual(['a@x', 'b@x']);
    expect(emails((await run([2, 3])).rows)).toEqual(['b@x', 'c@x']);
    expect(compiles).toBe(2);
  });
});
