import { existsSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  SqliteDialect,
  SqliteDriver,
  sql,
  type CompiledQuery,
  type CreateTableBuilder,
  type DatabaseConnection,
  type Driver,
  type MigrationResultSet,
  type Migrator,
  type QueryResult,
  type RawBuilder,
  type SqliteDialectConfig,
  type TableMetadata,
} from 'kysely';
import type { SqlConstant, UsersConfig } from '../../config.js';
import { ConfigError, DatabaseError, type CliError } from '../../errors.js';
import { ladderChunks } from '../chunks.js';
import type { DbLocation, Engine, KeyedInsert, OpenDb } from './types.js';
import { failedMigration, migrationMessage } from './migration-outcome.js';
import type { HeldLock, LockClaim, LockOptions } from '../run-lock.js';
import type { Database } from '../schema.js';
import { markSqliteFile, sqliteError, SQLITE_BUSY_TIMEOUT_MS, type SqliteOpened } from '../sqlite-errors.js';
import { acquireSqliteRunLock } from './sqlite-lock.js';
import { sqliteIntrospection } from './sqlite-introspection.js';

/** SQLite (better-sqlite3): one file, one connection, one writer at a time. */
class SqliteEngine implements Engine {
  readonly kind = 'sqlite';
  readonly introspection = sqliteIntrospection;
  readonly bytewiseKeys = true;

  async open(location: DbLocation, opts: { readonly: boolean }): Promise<OpenDb> {
    if (location.kind !== 'sqlite') throw new Error(`not a SQLite database: ${location.label}`);
    return openSqlite(location, opts, this);
  }

  describeError(e: unknown): CliError | null {
    return sqliteError(e);
  }

  /** `integer primary key autoincrement`: ids never reused. */
  withAutoId<T extends string>(table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'> {
    return table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  }

  /**
   * Kysely takes no lock here and runs each statement on its own, so the whole migration runs
   * inside one `BEGIN IMMEDIATE` transaction: a second process waits for the first (busy_timeout),
   * and a failed migration leaves no half-created table behind.
   */
  async migrate<DB>(db: Kysely<DB>, migrator: (schema?: string) => Migrator): Promise<MigrationResultSet> {
    await sql`BEGIN IMMEDIATE`.execute(db);
    let outcome: MigrationResultSet;
    try {
      outcome = await migrator().migrateToLatest();
    } catch (e) {
      await sql`ROLLBACK`.execute(db);
      throw e;
    }
    if (outcome.error) {
      await sql`ROLLBACK`.execute(db);
      throw sqliteError(outcome.error) ?? new DatabaseError(migrationMessage(failedMigration(outcome), outcome.error));
    }
    await sql`COMMIT`.execute(db);
    return outcome;
  }

  /** The database's tables (SQLite has no schemas beyond the attached databases). */
  async ownSchemaTables<DB>(db: Kysely<DB>): Promise<Set<string>> {
    const r = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(db);
    return new Set(r.rows.map((x) => x.name));
  }

  async ownTable<DB>(_db: Kysely<DB>, name: string): Promise<RawBuilder<unknown>> {
    return sql.id(name);
  }

  /** "no such table": a ledger migrated before that table existed, read by a command that never migrates. */
  isMissingTable(e: unknown): boolean {
    return /no such table|does not exist/i.test((e as Error).message);
  }

  isUniqueViolation(e: unknown): boolean {
    const code = (e as { code?: unknown }).code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }

  /**
   * `BEGIN IMMEDIATE` on the connection held for the whole callback, so the write lock is taken at
   * the start and a transaction that reads before it writes (a check, then an insert) cannot
   * interleave with another writer's (a deferred transaction would fail with SQLITE_BUSY when it
   * tries to upgrade).
   */
  writeTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    return db.connection().execute(async (conn) => {
      await sql`BEGIN IMMEDIATE`.execute(conn);
      try {
        const result = await fn(conn);
        // A COMMIT that fails (SQLITE_BUSY while a reader holds the file longer than busy_timeout)
        // leaves the transaction open: roll it back too, or this connection (a long-lived library
        // in the app's process) would hold the write lock and refuse every later transaction.
        await sql`COMMIT`.execute(conn);
        return result;
      } catch (e) {
        await sql`ROLLBACK`.execute(conn).catch(() => {});
        throw e;
      }
    });
  }

  /** Powers of two below `max`: few distinct statements, each prepared once (chunks.ts). */
  statementParts<T>(items: readonly T[], max: number): T[][] {
    return ladderChunks(items, max);
  }

  /**
   * Row by row when the caller gives each row's INSERT: one prepared statement run straight on the
   * connection, whose count of rows changed (0 for a row that conflicted) says which rows went in.
   * It costs SQLite less than a statement of a thousand rows, and skips Kysely's work per query and
   * the savepoint that a list needs (docs/performance.md).
   */
  async insertReportingKeys<DB, R>(trx: Kysely<DB>, rows: readonly R[], insert: KeyedInsert<R>): Promise<string[]> {
    const one = insert.one;
    if (rows.length === 0) return [];
    if (one === undefined) return insertList(trx, rows, insert);
    return trx.getExecutor().provideConnection(async (conn) => {
      if (!(conn instanceof SqliteFileConnection)) return insertList(trx, rows, insert);
      const keys: string[] = [];
      let text: string | null = null;
      let run = (_params: readonly unknown[]): number => 0;
      for (const row of rows) {
        const q = one(row);
        if (q.sql !== text) {
          text = q.sql;
          run = conn.prepared(text);
        }
        if (run(q.parameters) > 0) keys.push(insert.keyOf(row));
      }
      return keys;
    });
  }

  /** None needed: the write transaction holds the write lock from its start (BEGIN IMMEDIATE). */
  async lockPaymentKeys(): Promise<void> {}

  acquireRunLock(open: OpenDb, claim: LockClaim, opts: LockOptions): Promise<HeldLock> {
    return acquireSqliteRunLock(open.db, claim, opts);
  }

  /** better-sqlite3 binds no booleans: SQLite has none and stores them as 1 and 0. */
  constant(v: SqlConstant): RawBuilder<unknown> {
    return typeof v === 'boolean' ? sql`${v ? 1 : 0}` : sql`${v}`;
  }

  /** SQLite compares by the column's affinity and never fails (callers keep only rows that read back as exactly the text). */
  asText(column: RawBuilder<unknown>): RawBuilder<unknown> {
    return column;
  }

  /** An INTEGER reaches JavaScript as a number, which rounds beyond 2^53 (another user's id): read as text. */
  idAsRead(column: RawBuilder<unknown>): RawBuilder<unknown> {
    return sql`CAST(${column} AS TEXT)`;
  }

  /** By the column's affinity ('042' finds 42: the callers keep only rows whose id reads back as exactly the text). */
  idIn(column: RawBuilder<unknown>, values: readonly string[]): RawBuilder<boolean> {
    return sql<boolean>`${column} IN (${sql.join(values)})`;
  }

  /** INTEGER affinity (sqlite.org/datatype3.html). */
  isIntegerType(idType: string): boolean {
    return idType.toUpperCase().includes('INT');
  }

  /** The declared type, as verifyUsersTable reads it; SQLite finds the table case-insensitively. */
  async usersIdType<DB>(db: Kysely<DB>, cfg: UsersConfig): Promise<string | null> {
    const r = await sql<{
      type: string;
    }>`SELECT type FROM pragma_table_info(${cfg.table}) WHERE lower(name) = lower(${cfg.id})`.execute(db);
    return r.rows[0]?.type ?? null;
  }

  readableRef(ref: RawBuilder<unknown>): RawBuilder<boolean> {
    return sql<boolean>`((${ref} GLOB 'pi_?*' AND substr(${ref}, 4) NOT GLOB '*[^A-Za-z0-9]*') OR ((${ref} GLOB 'cs_test_?*' OR ${ref} GLOB 'cs_live_?*') AND substr(${ref}, 9) NOT GLOB '*[^A-Za-z0-9]*'))`;
  }

  /** SQLite's names are case-insensitive. */
  sameName(a: string, b: string): boolean {
    return a.toLowerCase() === b.toLowerCase();
  }

  /** The tables listed are the main database's, which `main.users` names as well. */
  async findTable<DB>(
    _db: Kysely<DB>,
    tables: readonly TableMetadata[],
    schema: string | null,
    table: string,
  ): Promise<TableMetadata | undefined> {
    const wanted = schema?.toLowerCase() === 'main' ? null : schema;
    return tables.find((t) => this.sameName(t.name, table) && (wanted === null || t.schema === wanted));
  }

  missingTableHint(schema: string | null, table: string): string {
    return schema !== null && schema.toLowerCase() !== 'main'
      ? `SQLite finds the app's tables in its main database: set users.table to "${table}" or "main.${table}"`
      : 'set users.table in the config file to the table that holds your users, and check --db';
  }

  tableIdentity(found: { name: string }, configured: { schema: string | null }): string {
    return `${configured.schema ?? 'main'}.${found.name}`.toLowerCase();
  }
}

export const sqliteEngine: Engine = new SqliteEngine();

/**
 * Rows in lists, without RETURNING: SQLite's gathers the rows in a temporary table before the first
 * is returned, and better-sqlite3 makes an object of each. The count of rows inserted answers
 * instead, and it is all of them but for a row conflicting with one written by someone else since
 * the run looked. When it is not, the insert is undone to a savepoint and made again with RETURNING.
 */
async function insertList<DB, R>(trx: Kysely<DB>, rows: readonly R[], insert: KeyedInsert<R>): Promise<string[]> {
  await sql`SAVEPOINT stripe_credits_purchases`.execute(trx);
  const inserted = await insert.counted(rows);
  const all = inserted === BigInt(rows.length);
  if (!all) await sql`ROLLBACK TO SAVEPOINT stripe_credits_purchases`.execute(trx);
  await sql`RELEASE SAVEPOINT stripe_credits_purchases`.execute(trx);
  return all ? rows.map((r) => insert.keyOf(r)) : insert.returning(rows);
}

/**
 * Opens the SQLite file. It must exist: it is the app's own database, the one that holds its users
 * table, and creating an empty one would only hide a wrong path. Read-only openings (a dry run, the
 * commands that only read) open the file read-only: it stays byte-for-byte unchanged.
 */
function openSqlite(
  location: Extract<DbLocation, { kind: 'sqlite' }>,
  opts: { readonly: boolean },
  engine: Engine,
): OpenDb {
  if (!existsSync(location.path)) {
    throw new ConfigError(
      `database not found: ${location.label}`,
      "--db (or DATABASE_URL) must name the app's existing database, the one that holds its users table",
    );
  }
  if (statSync(location.path).isDirectory()) {
    throw new ConfigError(
      `${location.label} is a directory, not a SQLite database file`,
      "--db (or DATABASE_URL) must name the app's database file, the one that holds its users table",
    );
  }
  const opened: SqliteOpened = { label: location.label, readonly: opts.readonly };
  const sqlite = connect(location, opened);
  const statements = new StatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteFileDialect({ database: statements }, opened, statements) });
  return { db, location, engine, readonly: opts.readonly, close: () => db.destroy() };
}

function connect(location: Extract<DbLocation, { kind: 'sqlite' }>, opened: SqliteOpened): SQLite.Database {
  try {
    const sqlite = new SQLite(location.path, { readonly: opened.readonly, fileMustExist: true });
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // Touch the file so a non-database file is reported here, as a configuration error.
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
    return sqlite;
  } catch (e) {
    throw (
      sqliteError(e, opened) ??
      new ConfigError(`cannot open SQLite database ${location.label}: ${(e as Error).message}`)
    );
  }
}

/** Kysely's SQLite dialect, whose connection marks each error with its file (sqlite-errors.ts). */
class SqliteFileDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly opened: SqliteOpened,
    private readonly statements: StatementCache,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new SqliteFileDriver(this.config, this.opened, this.statements);
  }
}

class SqliteFileDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly opened: SqliteOpened,
    private readonly statements: StatementCache,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    return new SqliteFileConnection(await super.acquireConnection(), this.opened, this.statements);
  }
}

class SqliteFileConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly opened: SqliteOpened,
    /** The statements Kysely's connection prepares (the same database handle). */
    private readonly statements: StatementCache,
  ) {}

  /**
   * A statement that returns no rows, run on the connection itself without Kysely: for statements
   * run once per row (SqliteEngine.insertReportingKeys). Each call returns the rows it changed.
   */
  prepared(text: string): (params: readonly unknown[]) => number {
    const stmt = this.statements.prepare(text);
    return (params) => {
      try {
        return stmt.run(params as unknown[]).changes;
      } catch (e) {
        throw markSqliteFile(e, this.opened);
      }
    };
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // better-sqlite3 is synchronous: Kysely's connection throws its errors here, never rejects.
    try {
      return this.inner.executeQuery<R>(query);
    } catch (e) {
      throw markSqliteFile(e, this.opened);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (e) {
      throw markSqliteFile(e, this.opened);
    }
  }
}

/**
 * The SQLite connection as Kysely sees it, preparing each distinct statement once. Kysely's driver
 * prepares every query it runs, and a reconcile runs the same few statements (a lookup of a
 * thousand keys, an insert of a thousand rows) many times over. SQLite re-prepares a statement by
 * itself when the schema changes. A statement still being iterated (a streamed query) is not
 * handed out twice.
 */
export class StatementCache {
  /** Most recently used last. */
  private readonly statements = new Map<string, SQLite.Statement>();
  /** Statements prepared so far (misses): see chunks.ts for why they should be few. */
  prepared = 0;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly size = 48,
  ) {}

  prepare(text: string): SQLite.Statement {
    const cached = this.statements.get(text);
    if (cached && !cached.busy) {
      this.statements.delete(text);
      this.statements.set(text, cached);
      return cached;
    }
    const stmt = this.sqlite.prepare(text);
    this.prepared += 1;
    this.statements.delete(text);
    this.statements.set(text, stmt);
    if (this.statements.size > this.size) this.statements.delete(this.statements.keys().next().value!);
    return stmt;
  }

  close(): void {
    this.statements.clear();
    this.sqlite.close();
  }
}
