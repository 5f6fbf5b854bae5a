import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { createAppDb as createSqliteAppDb, query as queryFile, sha256, type TestUser } from './cli.js';

/**
 * The database engines the end-to-end suites run on: SQLite and PostgreSQL, always. The Postgres
 * server is the one STRIPE_CREDITS_TEST_PG names (a base URL such as
 * postgres://postgres:PASSWORD@127.0.0.1:5432/postgres, where the tests may create databases), or
 * the throwaway one test/global-setup.ts starts when it is not set. Each app database is a fresh
 * one: a file in a temp dir, or a new Postgres database.
 */
export type EngineName = 'sqlite' | 'postgres';

const PG_ENV = 'STRIPE_CREDITS_TEST_PG';

/** `npm run test:quick` sets it: SQLite only, for the edit-test loop (CI refuses a skipped test). */
export const SQLITE_ONLY = process.env.STRIPE_CREDITS_TEST_ENGINES === 'sqlite';

/** The engines to run on: both; a run without a Postgres server is a failed run, never a skipped one. */
export function engines(): EngineName[] {
  if (SQLITE_ONLY) return ['sqlite'];
  if (!process.env[PG_ENV]) throw new Error(`${PG_ENV} is not set: test/global-setup.ts should have started a server`);
  return ['sqlite', 'postgres'];
}

export interface AppDbOptions {
  /** `users` by default; may be schema-qualified (`app.users`) on Postgres. */
  table?: string;
  /** The id column's SQL type (INTEGER by default; TEXT; on Postgres also UUID, BIGINT…). */
  idType?: string;
  customerColumn?: boolean;
  columns?: { id?: string; email?: string; name?: string };
  /** SQLite: the file name in the directory (app.db). */
  file?: string;
}

/** An app database as the tests see it: the `--db` value, and direct access for setup and checks. */
export interface AppDb {
  engine: EngineName;
  /** What `--db` takes: a file path, or a postgres:// URL. */
  url: string;
  /** Rows of a query; `?` placeholders on both engines. */
  query<T = Record<string, unknown>>(text: string, ...params: unknown[]): Promise<T[]>;
  /** Runs statements (several at once when there are no parameters). */
  exec(text: string, ...params: unknown[]): Promise<void>;
  /** Tables in the database (SQLite) or in its public schema (Postgres), sorted. */
  tables(): Promise<string[]>;
  /**
   * A digest of everything in the database. SQLite: the file's bytes. Postgres: every relation
   * (tables, indexes, sequences and their positions) and every row of every table, so that "the
   * dry run changed nothing" means the same on both engines.
   */
  fingerprint(): Promise<string>;
  /** Closes connections; drops a Postgres database. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

const INT8 = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function pgBase(): string {
  const base = process.env[PG_ENV];
  if (!base) throw new Error(`${PG_ENV} is not set`);
  return base;
}

/** The URL of another database on the test server. */
export function pgUrl(database: string, opts: { user?: string; password?: string } = {}): string {
  const u = new URL(pgBase());
  u.pathname = `/${database}`;
  if (opts.user !== undefined) u.username = opts.user;
  if (opts.password !== undefined) u.password = opts.password;
  return u.toString();
}

let admin: pg.Pool | null = null;

/**
 * Connections to the test server's base database, shared by the process (creating and dropping
 * databases and roles). A pool: concurrent tests ask at once, and a pg client runs one query at a
 * time (queueing on one client is deprecated).
 */
export async function pgAdmin(): Promise<pg.Pool> {
  if (!admin) {
    admin = new pg.Pool({ connectionString: pgBase(), types: INT8, max: 4, allowExitOnIdle: true });
    admin.on('error', () => {});
  }
  return admin;
}

export async function pgConnect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, types: INT8 });
  c.on('error', () => {});
  await c.connect();
  return c;
}

const toDollar = (text: string) => {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
};

function quoteName(name: string): string {
  return name
    .split('.')
    .map((p) => `"${p.replace(/"/g, '""')}"`)
    .join('.');
}

function usersDdl(users: TestUser[], opts: AppDbOptions): { create: string; insert: string; rows: unknown[][] } {
  const t = opts.table ?? 'users';
  const c = { id: 'id', email: 'email', name: 'name', ...opts.columns };
  const cols = [c.id, c.email, c.name, ...(opts.customerColumn ? ['stripe_customer_id'] : [])];
  return {
    create: `CREATE TABLE ${t} (${c.id} ${opts.idType ?? 'INTEGER'} PRIMARY KEY, ${c.email} TEXT, ${c.name} TEXT${opts.customerColumn ? ', stripe_customer_id TEXT' : ''})`,
    insert: `INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    rows: users.map((u) => [
      u.id,
      u.email,
      u.name ?? null,
      ...(opts.customerColumn ? [u.stripe_customer_id ?? null] : []),
    ]),
  };
}

/** An empty Postgres database of its own, for one test or one suite. */
export async function createPgDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `sc_t_${randomBytes(6).toString('hex')}`;
  const a = await pgAdmin();
  await a.query(`CREATE DATABASE ${name}`);
  return {
    name,
    url: pgUrl(name),
    drop: async () => {
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

function pgAppDb(url: string, drop: () => Promise<void>): AppDb {
  let client: Promise<pg.Client> | null = null;
  const conn = () => (client ??= pgConnect(url));
  const db: AppDb = {
    engine: 'postgres',
    url,
    async query<T>(text: string, ...params: unknown[]) {
      return (await (await conn()).query(toDollar(text), params)).rows as T[];
    },
    async exec(text: string, ...params: unknown[]) {
      await (await conn()).query(params.length ? toDollar(text) : text, params.length ? params : undefined);
    },
    async tables() {
      const rows = await db.query<{ t: string }>(
        "SELECT tablename AS t FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY 1",
      );
      return rows.map((r) => r.t);
    },
    async fingerprint() {
      const c = await conn();
      const parts: string[] = [];
      const rels = await c.query<{ s: string; n: string; k: string; def: string | null }>(
        `SELECT n.nspname AS s, c.relname AS n, c.relkind::text AS k, pg_get_indexdef(c.oid) AS def
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
          ORDER BY 1, 2`,
      );
      for (const r of rels.rows) {
        parts.push(JSON.stringify(r));
        const name = `"${r.s}"."${r.n}"`;
        if (r.k === 'r' || r.k === 'p') {
          const cols = await c.query(
            `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
            [r.s, r.n],
          );
          parts.push(JSON.stringify(cols.rows));
          const rows = await c.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM ${name} t ORDER BY 1`);
          parts.push(...rows.rows.map((x) => x.j));
        } else if (r.k === 'S') {
          const seq = await c.query(`SELECT last_value, is_called FROM ${name}`);
          parts.push(JSON.stringify(seq.rows));
        }
      }
      return createHash('sha256').update(parts.join('\n')).digest('hex');
    },
    async close() {
      if (client) await (await client).end().catch(() => {});
      client = null;
      await drop();
    },
  };
  return db;
}

function sqliteAppDb(path: string): AppDb {
  const db: AppDb = {
    engine: 'sqlite',
    url: path,
    async query<T>(text: string, ...params: unknown[]) {
      return queryFile<T>(path, text, ...params);
    },
    async exec(text: string, ...params: unknown[]) {
      const s = new SQLite(path);
      try {
        if (params.length) s.prepare(text).run(...params);
        else s.exec(text);
      } finally {
        s.close();
      }
    },
    async tables() {
      const rows = await db.query<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
      );
      return rows.map((r) => r.name);
    },
    async fingerprint() {
      return sha256(path);
    },
    async close() {},
  };
  return db;
}

/** A fresh app database with a users table of the given shape, on the given engine. */
export async function createAppDb(
  engine: EngineName,
  dir: string,
  users: TestUser[],
  opts: AppDbOptions = {},
): Promise<AppDb> {
  if (engine === 'sqlite') {
    const path = createSqliteAppDb(join(dir, opts.file ?? 'app.db'), users, {
      ...opts,
      idType: (opts.idType ?? 'INTEGER') as 'INTEGER' | 'TEXT',
    });
    return sqliteAppDb(path);
  }
  const created = await createPgDatabase();
  const app = pgAppDb(created.url, created.drop);
  try {
    const ddl = usersDdl(users, opts);
    const table = opts.table ?? 'users';
    if (table.includes('.')) await app.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteName(table.split('.')[0]!)}`);
    await app.exec(ddl.create);
    for (const row of ddl.rows) await app.exec(ddl.insert, ...row);
  } catch (e) {
    await app.close();
    throw e;
  }
  return app;
}

/** An app database with no users table yet (the test creates its own shape). */
export async function createEmptyAppDb(engine: EngineName, dir: string, file = 'empty.db'): Promise<AppDb> {
  if (engine === 'sqlite') {
    const path = join(dir, file);
    new SQLite(path).close();
    return sqliteAppDb(path);
  }
  const created = await createPgDatabase();
  return pgAppDb(created.url, created.drop);
}
