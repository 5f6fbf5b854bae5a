import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseError } from '../../src/ledger/db.js';
import { openTempLedger } from '../helpers/ledger.js';

/**
 * SQLite's errors carry a code but not the file's name: the message names the file whose
 * connection met the error, not whichever file the process happened to open last (a library in an
 * app may hold several).
 */
describe('a SQLite error names the file it came from', () => {
  const opened: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
  });

  it('the first of two databases opened, failing after the second was opened', async () => {
    const first = await openTempLedger();
    opened.push(first);
    const second = await openTempLedger();
    opened.push(second);
    const db = first.open.db;
    const { rows } = await sql<{ n: number }>`SELECT page_count AS n FROM pragma_page_count()`.execute(db);
    await sql.raw(`PRAGMA max_page_count = ${rows[0]!.n}`).execute(db);
    const failed = await sql`INSERT INTO users (email, name) VALUES ('big@example.com', randomblob(200000))`
      .execute(db)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(failed).toMatchObject({ code: 'SQLITE_FULL' });
    const message = databaseError(failed)?.message ?? '';
    expect(message).toContain(`the disk is full writing ${first.open.location.label}`);
    expect(message).not.toContain(second.open.location.label);
  });
});
