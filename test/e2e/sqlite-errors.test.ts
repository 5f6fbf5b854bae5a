import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { databaseError, migrateToLatest, openDatabase, parseDbUrl } from '../../src/ledger/db.js';
import { createAppDb, query, runCli, tempDir, type CliResult } from '../helpers/cli.js';

/**
 * What SQLite says when the file cannot be used, through the real CLI: a directory (exit 2), a
 * file this process may not write (exit 2, naming it), a file another process holds locked (exit
 * 75, as the contract says for a lock held elsewhere), and a full disk (exit 1, saying so). Each is
 * one line, never "unexpected error".
 */

const KEY = 'sk_test_sqliteErrorsE2eKey7c1d';
const dirs: Array<{ cleanup(): void }> = [];
let sim: StripeSimulator;
beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY] });
});
afterAll(async () => {
  await sim.close();
  for (const d of dirs) d.cleanup();
});

function fresh(): { dir: string; db: string } {
  const t = tempDir('sc-sqlite-errors-');
  dirs.push(t);
  const db = createAppDb(
    join(t.dir, 'app.db'),
    [1, 2, 3].map((i) => ({ id: i, email: `user${i}@example.com`, name: `User ${i}` })),
  );
  return { dir: t.dir, db };
}

function cli(args: string[], dir: string, opts: { uid?: number } = {}): Promise<CliResult> {
  return runCli(args, {
    cwd: dir,
    env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
    timeoutMs: 120_000,
    ...opts,
  });
}

function expectError(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines[0]).toMatch(/^stripe-credits: \S/);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]).not.toMatch(/unexpected error/);
  for (const l of lines.slice(1)) expect(l).toMatch(/^ {2}hint: \S/);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.concurrent('SQLite files the CLI cannot use', () => {
  it('--db naming a directory: exit 2, says it is a directory', async () => {
    const { dir } = fresh();
    const sub = join(dir, 'data');
    mkdirSync(sub);
    expectError(await cli(['migrate', '--db', sub], dir), 2, new RegExp(`${escape(sub)} is a directory`));
    expectError(await cli(['review', '--db', sub], dir), 2, /is a directory/);
  });

  it('a file this process may not write: exit 2 naming the file; reading it still works', async () => {
    const { dir, db } = fresh();
    chmodSync(db, 0o444);
    chmodSync(dir, 0o555);
    // Root writes whatever the mode says: the CLI runs as nobody then.
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    try {
      expectError(await cli(['migrate', '--db', db], dir, { uid }), 2, new RegExp(`${escape(db)} cannot be written`));
      expectError(
        await cli(['adjust', '--db', db, '--user', '1', '--credits', '5', '--reason', 'goodwill'], dir, { uid }),
        2,
        new RegExp(`${escape(db)} cannot be written`),
      );
      const read = await cli(['review', '--db', db], dir, { uid });
      expect(read.code, read.stderr).toBe(0);
      expect(query(db, "SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([{ name: 'users' }]);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('another process holding a write lock (BEGIN EXCLUSIVE, BEGIN IMMEDIATE): exit 75, nothing written', async () => {
    const { dir, db } = fresh();
    expect((await cli(['migrate', '--db', db], dir)).code).toBe(0);
    const holder = new SQLite(db);
    try {
      // EXCLUSIVE keeps out readers too: every command waits busy_timeout, then gives up.
      holder.exec('BEGIN EXCLUSIVE');
      const [migrate, adjust, review] = await Promise.all([
        cli(['migrate', '--db', db], dir),
        cli(['adjust', '--db', db, '--user', '1', '--credits', '5', '--reason', 'goodwill'], dir),
        cli(['review', '--db', db], dir),
      ]);
      for (const r of [migrate, adjust, review])
        expectError(r, 75, new RegExp(`${escape(db)} is locked by another process`));
      holder.exec('ROLLBACK');

      // IMMEDIATE (a writer mid-transaction): reading goes on, writing gives up.
      holder.exec('BEGIN IMMEDIATE');
      const [write, read] = await Promise.all([
        cli(['adjust', '--db', db, '--user', '1', '--credits', '5', '--reason', 'goodwill'], dir),
        cli(['review', '--db', db], dir),
      ]);
      expectError(write, 75, /is locked by another process/);
      expect(read.code, read.stderr).toBe(0);
      holder.exec('ROLLBACK');
    } finally {
      holder.close();
    }
    expect(query(db, 'SELECT count(*) AS n FROM credit_ledger')).toEqual([{ n: 0 }]);
  });
});

describe('a full disk', () => {
  // A small filesystem cannot be mounted here; SQLite's own page limit produces the same error
  // (SQLITE_FULL) from a real connection, and the CLI's mapping is the function tested.
  it('is said so, naming the file: exit 1', async () => {
    const { dir, db } = fresh();
    const open = await openDatabase(parseDbUrl(db, dir), { readonly: false });
    try {
      await migrateToLatest(open.db);
      const { rows } = await sql<{ n: number }>`SELECT page_count AS n FROM pragma_page_count()`.execute(open.db);
      await sql.raw(`PRAGMA max_page_count = ${rows[0]!.n}`).execute(open.db);
      const failed = await sql`INSERT INTO users (email, name) VALUES ('big@example.com', randomblob(200000))`
        .execute(open.db)
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(failed).toMatchObject({ code: 'SQLITE_FULL' });
      const mapped = databaseError(failed);
      expect(mapped?.exitCode).toBe(1);
      expect(mapped?.message).toMatch(new RegExp(`^the disk is full writing ${escape(db)}`));
    } finally {
      await open.close();
    }
  });
});
