import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RowsInsert } from '../../src/ledger/compile-once.js';
import { StatementCache } from '../../src/ledger/engines/sqlite.js';
import { keysHeldIn } from '../../src/ledger/ledger.js';
import type { Database } from '../../src/ledger/schema.js';

/**
 * A large sweep writes and looks up lists whose length changes from batch to batch. On SQLite each
 * distinct length was a statement prepared anew (large, and freed only when V8 got round to it):
 * these check that the lengths are cut to a few, so the statements prepared stay few.
 */
describe('few statements prepared for lists of many lengths (SQLite)', () => {
  let dir: string;
  let sqlite: SQLite.Database;
  let cache: StatementCache;
  // Only the payments table's key (and a value of the test's own): the rest of the schema is not used.
  let db: Kysely<Database>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'few-stmts-'));
    sqlite = new SQLite(join(dir, 'db.sqlite'));
    sqlite.exec('CREATE TABLE stripe_credits_payments (payment_key TEXT PRIMARY KEY, v INTEGER)');
    cache = new StatementCache(sqlite);
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cache }) });
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  type Row = { payment_key: string; v: number };
  // 40 lengths between 1 and 1,000, none twice.
  const lengths = Array.from({ length: 40 }, (_, i) => 1000 - ((i * 337) % 1000));

  it('inserts: every row written, the count of rows reported, from a dozen statements', async () => {
    const insert = new RowsInsert((db, rows: readonly Row[]) =>
      db
        .insertInto('stripe_credits_payments')
        .values(rows as never)
        .compile(),
    );
    let next = 0;
    for (const n of lengths) {
      const rows = Array.from({ length: n }, () => ({ payment_key: `pi_${next}`, v: next++ }));
      const r = await insert.run(db, rows);
      expect(r.numAffectedRows).toBe(BigInt(n));
    }
    expect(
      sqlite.prepare('SELECT count(*) AS n, sum(v) AS s FROM stripe_credits_payments').get() as {
        n: number;
        s: number;
      },
    ).toEqual({
      n: next,
      s: (next * (next - 1)) / 2,
    });
    // 1,000 and the powers of two below it: 11 texts (one list length each was 40).
    expect(cache.prepared).toBeLessThanOrEqual(12);
  });

  it('inserts with RETURNING: the rows of every part', async () => {
    const rows = Array.from({ length: 909 }, (_, i) => ({ payment_key: `k${i}`, v: i }));
    const insert = new RowsInsert((db, rows: readonly Row[]) =>
      db
        .insertInto('stripe_credits_payments')
        .values(rows as never)
        .returning('payment_key')
        .compile(),
    );
    const r = await insert.run(db, rows);
    expect(r.rows.map((x) => (x as { payment_key: string }).payment_key)).toEqual(rows.map((x) => x.payment_key));
  });

  it('lookups: the same answer as without padding, from a dozen statements', async () => {
    sqlite.exec(
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2999) INSERT INTO stripe_credits_payments SELECT 'k' || i, i FROM n",
    );
    const before = cache.prepared;
    for (const n of lengths) {
      const keys = Array.from({ length: n }, (_, i) => `k${(i * 7 + n) % 6000}`);
      const held = await keysHeldIn(db, 'stripe_credits_payments', keys);
      expect([...held].sort()).toEqual([...new Set(keys.filter((k) => Number(k.slice(1)) < 3000))].sort());
    }
    expect(cache.prepared - before).toBeLessThanOrEqual(12);
  });
});
