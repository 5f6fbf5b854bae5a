import { resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { ConfigError, type CliError } from '../errors.js';
import { ALL_ENGINES, engineFor, openWithEngine, type DbLocation, type OpenDb } from './engine.js';
import { parsePostgresUrl, PG_URL_FORM } from './engines/postgres-url.js';
import { maskDbLocation } from './mask.js';
import { MIGRATION_TABLE, migrator } from './migrate.js';
import type { Database } from './schema.js';

export type { DbLocation, OpenDb, PgConnection, SqlSession } from './engine.js';
export { MIGRATION_NAMES } from './migrate.js';
export { maskDbUrl } from './mask.js';

/**
 * `--db` / DATABASE_URL: a file path, `sqlite:PATH`, or a `postgres://` / `postgresql://` URL. The
 * URL names the engine: this is where a database to open gets its engine.
 */
export function parseDbUrl(url: string, cwd: string): DbLocation {
  if (/^postgres(ql)?:\/\//i.test(url)) return parsePostgresUrl(url, cwd);
  let path = url;
  if (/^sqlite:/i.test(path)) path = path.replace(/^sqlite:(\/\/)?/i, '');
  else if (/^file:/i.test(path)) path = path.replace(/^file:(\/\/)?/i, '');
  else if (/^([a-z][a-z0-9+.-]*:\/\/|jdbc:)/i.test(path)) {
    const hint = /^jdbc:postgres/i.test(path)
      ? 'drop the jdbc: prefix: postgres://USER:PASSWORD@HOST:PORT/DATABASE'
      : 'use a SQLite file path, sqlite:PATH, or postgres://USER:PASSWORD@HOST:PORT/DATABASE';
    throw new ConfigError(`unsupported database URL: ${maskDbLocation(url)}`, hint);
  } else if (KEYWORD_DSN.test(path)) {
    throw new ConfigError(
      `unsupported database setting: ${maskDbLocation(url)} (a keyword/value connection string)`,
      `write it as a URL: ${PG_URL_FORM}`,
    );
  }
  if (path === '') throw new ConfigError('empty database path');
  const abs = resolve(cwd, path);
  // A path is shown masked too: a mistyped connection string that ends up read as a path may hold a password.
  return { kind: 'sqlite', path: abs, label: maskDbLocation(url, abs) };
}

/** A libpq keyword/value connection string (`host=db user=app password=…`), which `pg` cannot take here. */
const KEYWORD_DSN =
  /^\s*(host|hostaddr|port|dbname|user|password|passfile|sslmode|service|connect_timeout|application_name|options)\s*=/i;

/**
 * Opens the app's database. Read-only openings (a dry run, the commands that only read) cannot
 * write: SQLite opens the file read-only (it stays byte-for-byte unchanged); on Postgres every
 * session runs with `default_transaction_read_only`. A SQLite file must exist: it is the app's own
 * database, the one that holds its users table, and creating an empty one would only hide a wrong
 * path. A Postgres server is asked one query at once, so that a wrong password, a missing database
 * or an unreachable server is reported here, in one line.
 */
export async function openDatabase(location: DbLocation, opts: { readonly: boolean }): Promise<OpenDb> {
  return openWithEngine(location, opts);
}

/**
 * A database error met while a command runs (after the connection was made), as one line. Returns
 * null for errors that are not the database's. Used by the CLI, the one place that maps errors; the
 * error arrives without its database, so each engine is asked whether it is one of its own.
 */
export function databaseError(e: unknown): CliError | null {
  if (!(e instanceof Error) || typeof (e as { message?: unknown }).message !== 'string') return null;
  for (const engine of ALL_ENGINES) {
    const mapped = engine.describeError(e);
    if (mapped) return mapped;
  }
  return null;
}

/**
 * Brings the tool's tables up to date. Returns the names of the migrations applied now. Several
 * processes may start at once (cron overlapping a person's run, several machines): each engine runs
 * the migrations all or nothing, the second process waiting for the first (Engine.migrate).
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const { results } = await engineFor(db).migrate(db, (schema) => migrator(db, schema));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * The migrations the database has had, read from the bookkeeping table directly (never through the
 * Migrator, which may create its tables), or null when it has none. On Postgres, the table in the
 * schema where the tool keeps its own (current_schema()).
 */
export async function appliedMigrations(db: Kysely<Database>): Promise<string[] | null> {
  const engine = engineFor(db);
  if (!(await engine.ownSchemaTables(db)).has(MIGRATION_TABLE)) return null;
  const table = await engine.ownTable(db, MIGRATION_TABLE);
  const r = await sql<{ name: string }>`SELECT name FROM ${table} ORDER BY name`.execute(db);
  return r.rows.map((x) => x.name);
}

/** Whether the tool's tables exist yet (a dry run on a database the tool never touched has none). */
export async function toolTablesExist(db: Kysely<Database>): Promise<boolean> {
  return (await engineFor(db).ownSchemaTables(db)).has('credit_ledger');
}
