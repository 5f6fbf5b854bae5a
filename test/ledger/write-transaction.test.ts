import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OpenDb } from '../../src/ledger/db.js';
import { writeTransaction } from '../../src/ledger/engine.js';
import { openTempLedger } from '../helpers/ledger.js';

/**
 * writeTransaction on SQLite when COMMIT fails: a reader holding the file (another process's open
 * read transaction) makes COMMIT wait for busy_timeout and fail with SQLITE_BUSY, which leaves the
 * transaction open. It must be rolled back: nothing of it is written, and the connection (a
 * long-lived library in the app's process) takes the next transaction as usual.
 */
describe('writeTransaction when COMMIT fails (SQLite)', () => {
  let open: OpenDb;
  let close: () => Promise<void>;
  let path: string;
  beforeEach(async () => {
    ({ open, close } = await openTempLedger());
    path = (await sql<{ file: string }>`SELECT file FROM pragma_database_list WHERE name = 'main'`.execute(open.db))
      .rows[0]!.file;
  });
  afterEach(() => close());

  const insert = (name: string) => sql`INSERT INTO users (email, name) VALUES (${`${name}@example.com`}, ${name})`;
  const names = async () =>
    (await sql<{ name: string }>`SELECT name FROM users ORDER BY id`.execute(open.db)).rows.map((r) => r.name);

  it('rolls back, writes nothing, and leaves the connection free for the next transaction', async () => {
    await sql`PRAGMA busy_timeout = 100`.execute(open.db);
    const reader = new SQLite(path, { readonly: true });
    try {
      // A read transaction that has read: it holds a shared lock until it ends.
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM users').get();
      const failed = writeTransaction(open.db, async (trx) => {
        await insert('lost').execute(trx);
        return 'done';
      });
      await expect(failed).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      reader.exec('COMMIT');
    } finally {
      reader.close();
    }
    expect(await names()).toEqual([]);
    await writeTransaction(open.db, (trx) => insert('kept').execute(trx));
    expect(await names()).toEqual(['kept']);
  });
});
