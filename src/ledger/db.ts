import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import { ConfigError, DatabaseError } from '../errors.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-payments.js';
import * as m0003 from './migrations/0003-support.js';
import * as m0004 from './migrations/0004-cron.js';
import type { Database } from './schema.js';

export interface DbLocation {
  kind: 'sqlite';
  path: string;
}

/** `--db` / DATABASE_URL: a file path, `sqlite:PATH`, or (not built yet) a Postgres URL. */
export function parseDbUrl(url: string, cwd: string): DbLocation {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new ConfigError('Postgres databases are not supported yet; use a SQLite file for now (see "What is not built yet" in the README)');
  }
  let path = url;
  if (/^sqlite:/i.test(path)) path = path.replace(/^sqlite:(\/\/)?/i, '');
  else if (/^file:/i.test(path)) path = path.replace(/^file:(\/\/)?/i, '');
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new ConfigError(`unsupported database URL: ${url.replace(/\/\/[^@/]*@/, '//***@')}`, 'use a SQLite file path, or sqlite:PATH');
  }
  if (path === '') throw new ConfigError('empty database path');
  return { kind: 'sqlite', path: resolve(cwd, path) };
}

export interface OpenDb {
  db: Kysely<Database>;
  location: DbLocation;
  readonly: boolean;
  close(): Promise<void>;
}

/**
 * Opens the app's database. A dry run opens it read-only (SQLite refuses every write, so the file
 * stays byte-for-byte unchanged). The file must exist: it is the app's own database, the one that
 * holds its users table, and creating an empty one would only hide a wrong path.
 */
export function openDatabase(location: DbLocation, opts: { readonly: boolean }): OpenDb {
  if (!existsSync(location.path)) {
    throw new ConfigError(
      `database not found: ${location.path}`,
      "--db (or DATABASE_URL) must name the app's existing database, the one that holds its users table",
    );
  }
  let sqlite: SQLite.Database;
  try {
    sqlite = new SQLite(location.path, { readonly: opts.readonly, fileMustExist: true });
    sqlite.pragma('busy_timeout = 10000');
    // Touch the file so a non-database file is reported here, as a configuration error.
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (e) {
    throw new ConfigError(`cannot open SQLite database ${location.path}: ${(e as Error).message}`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    location,
    readonly: opts.readonly,
    close: () => db.destroy(),
  };
}

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-payments': m0002,
  '0003-support': m0003,
  '0004-cron': m0004,
};

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** Own migration bookkeeping tables, so the tool never collides with an app that also uses Kysely. */
function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: new InCodeMigrations(),
    migrationTableName: 'stripe_credits_migration',
    migrationLockTableName: 'stripe_credits_migration_lock',
    // Migrations are independent of each other; a database migrated by a development build between
    // two of them must still take the one numbered before its newest.
    allowUnorderedMigrations: true,
  });
}

/**
 * Brings the tool's tables up to date. Returns the names of the migrations applied now.
 *
 * Several processes may start at once (cron overlapping a person's run). Kysely takes no lock on
 * SQLite and runs each statement on its own, so the whole migration runs inside one
 * `BEGIN IMMEDIATE` transaction: the second process waits for the first (busy_timeout), then
 * finds nothing left to do, and a failed migration leaves no half-created table behind.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  await sql`BEGIN IMMEDIATE`.execute(db);
  let outcome: Awaited<ReturnType<Migrator['migrateToLatest']>>;
  try {
    outcome = await migrator(db).migrateToLatest();
  } catch (e) {
    await sql`ROLLBACK`.execute(db);
    throw e;
  }
  const { error, results } = outcome;
  if (error) {
    await sql`ROLLBACK`.execute(db);
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new DatabaseError(`migration ${failed ?? ''} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  await sql`COMMIT`.execute(db);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Whether the tool's tables exist yet (a dry run on a database the tool never touched has none). */
export async function toolTablesExist(db: Kysely<Database>): Promise<boolean> {
  const tables = await db.introspection.getTables();
  return tables.some((t) => t.name === 'credit_ledger');
}
