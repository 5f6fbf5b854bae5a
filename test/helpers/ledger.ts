import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../../src/ledger/db.js';
import { afterEach } from 'vitest';
import { tempDir, type TestUser } from './cli.js';
import { createAppDb, type AppDb, type EngineName } from './engines.js';

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

/**
 * For a describe block on one engine: `start()` makes an app database with these users (ids 1-3 by
 * default), opens it as the tool does (migrated unless `migrate: false`, read-only with
 * `readonly`), and everything is closed and removed after each test.
 */
export function engineLedger(
  engine: EngineName,
  users: TestUser[] = [1, 2, 3].map((id) => ({ id, email: `${id}@example.com`, name: `U${id}` })),
) {
  let app: AppDb | null = null;
  let open: OpenDb | null = null;
  let cleanup = () => {};
  afterEach(async () => {
    await open?.close();
    await app?.close();
    cleanup();
    open = null;
    app = null;
    cleanup = () => {};
  });
  return {
    async start(opts: { migrate?: boolean; readonly?: boolean } = {}): Promise<{ app: AppDb; open: OpenDb }> {
      const t = tempDir();
      cleanup = t.cleanup;
      app = await createAppDb(engine, t.dir, users);
      open = await openDatabase(parseDbUrl(app.url, t.dir), { readonly: opts.readonly ?? false });
      if (opts.migrate ?? true) await migrateToLatest(open.db);
      return { app, open };
    },
  };
}
