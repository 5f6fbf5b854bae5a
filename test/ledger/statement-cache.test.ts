import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatementCache } from '../../src/ledger/engines/sqlite.js';

describe('StatementCache (the SQLite connection Kysely uses)', () => {
  let dir: string;
  let sqlite: SQLite.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stmt-cache-'));
    sqlite = new SQLite(join(dir, 'db.sqlite'));
    sqlite.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  });
  afterEach(() => {
    if (sqlite.open) sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares a statement once and hands the same one out again', () => {
    const cache = new StatementCache(sqlite);
    const a = cache.prepare('SELECT v FROM t WHERE k = ?');
    expect(cache.prepare('SELECT v FROM t WHERE k = ?')).toBe(a);
    expect(cache.prepare('SELECT k FROM t WHERE v = ?')).not.toBe(a);
  });

  it('does not hand out a statement that is still being iterated', () => {
    sqlite.exec("INSERT INTO t VALUES ('a', 1), ('b', 2)");
    const cache = new StatementCache(sqlite);
    const first = cache.prepare('SELECT k FROM t ORDER BY k');
    const it1 = first.iterate();
    expect(it1.next().value).toEqual({ k: 'a' });
    const second = cache.prepare('SELECT k FROM t ORDER BY k');
    expect(second).not.toBe(first);
    expect(second.all()).toEqual([{ k: 'a' }, { k: 'b' }]);
    expect(it1.next().value).toEqual({ k: 'b' });
    expect(it1.next().done).toBe(true);
  });

  it('keeps only the most recently used statements', () => {
    const cache = new StatementCache(sqlite, 2);
    const a = cache.prepare('SELECT 1');
    cache.prepare('SELECT 2');
    expect(cache.prepare('SELECT 1')).toBe(a); // now most recent
    cache.prepare('SELECT 3'); // evicts SELECT 2
    expect(cache.prepare('SELECT 1')).toBe(a);
    const b = cache.prepare('SELECT 2');
    expect(cache.prepare('SELECT 2')).toBe(b);
  });

  it('a cached statement sees a schema changed after it was prepared', async () => {
    const db = new Kysely<Record<string, never>>({
      dialect: new SqliteDialect({ database: new StatementCache(sqlite) }),
    });
    await sql`INSERT INTO t VALUES ('a', 1)`.execute(db);
    const read = () => sql<{ k: string }>`SELECT * FROM t`.execute(db).then((r) => r.rows);
    expect(await read()).toEqual([{ k: 'a', v: 1 }]);
    await sql`ALTER TABLE t ADD COLUMN w TEXT`.execute(db);
    expect(await read()).toEqual([{ k: 'a', v: 1, w: null }]);
    await db.destroy();
    expect(sqlite.open).toBe(false);
  });
});
