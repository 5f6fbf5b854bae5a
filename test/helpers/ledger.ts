import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../../src/ledger/db.js';
import { tempDir } from './cli.js';

/**
 * An app's SQLite database in a temp dir (a users table, plus whatever `sql` adds), opened as the
 * tool opens it and migrated: for tests of the ledger's writers and caches. `close` removes it.
 */
export async function openTempLedger(sql = ''): Promise<{ open: OpenDb; close(): Promise<void> }> {
  const t = tempDir('ledger-test-');
  const path = join(t.dir, 'app.db');
  const file = new SQLite(path);
  file.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT); ${sql}`);
  file.close();
  const open = await openDatabase(parseDbUrl(path, t.dir), { readonly: false });
  await migrateToLatest(open.db);
  return {
    open,
    close: async () => {
      await open.close();
      t.cleanup();
    },
  };
}
