import {
  type CreateTableBuilder,
  type Kysely,
  type MigrationResultSet,
  type Migrator,
  type RawBuilder,
  type TableMetadata,
} from 'kysely';
import type { SqlConstant, UsersConfig } from '../../config.js';
import type { CliError } from '../../errors.js';
import type { Introspection } from '../introspect/model.js';
import type { HeldLock, LockClaim, LockOptions } from '../run-lock.js';
import type { Database } from '../schema.js';

/**
 * The one place where SQLite and Postgres differ, as kysely's dialect adapters do it: one
 * interface, one implementation per engine (engines/sqlite.ts, engines/postgres.ts). Everything
 * else (migrations, queries) is written once, through Kysely, and asks its engine (`engineFor`)
 * whenever the two need different SQL or behave differently.
 */
export type EngineKind = 'sqlite' | 'postgres';

/** Where `--db` / DATABASE_URL points. `label` is what messages show: never a password. */
export type DbLocation = SqliteLocation | PostgresLocation;
interface SqliteLocation {
  kind: 'sqlite';
  path: string;
  label: string;
}
export interface PostgresLocation {
  kind: 'postgres';
  label: string;
  connection: PgConnection;
}

/** What `pg` needs to connect, from the URL (TLS files already read). */
export interface PgConnection {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  ssl:
    | false
    | { rejectUnauthorized: boolean; ca?: string; cert?: string; key?: string; checkServerIdentity?: () => undefined };
  sslmode: string;
  connectTimeoutMs: number;
  applicationName: string;
  options?: string;
}

/** A connection of its own, outside the pool: session-level state (the run lock) lives on it. */
export interface SqlSession {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Ends the session; whatever it held (advisory locks) is released by the server. */
  close(): Promise<void>;
}

/** An open database: the Kysely instance, where it is, and the engine that speaks to it. */
export interface OpenDb {
  db: Kysely<Database>;
  location: DbLocation;
  engine: Engine;
  readonly: boolean;
  /** Postgres only: opens a dedicated session (the run lock holds one for the whole run). */
  session?: () => Promise<SqlSession>;
  close(): Promise<void>;
}

/**
 * Inserting rows and learning which were inserted (the others conflicted with a row already there):
 * the two ways the caller can insert them, of which the engine picks.
 */
export interface KeyedInsert<R> {
  /** Inserts the rows and returns the number of rows the statement inserted. */
  counted(rows: readonly R[]): Promise<bigint>;
  /** Inserts the rows and returns the keys of those inserted (RETURNING). */
  returning(rows: readonly R[]): Promise<string[]>;
  keyOf(row: R): string;
  /**
   * One row's INSERT (the same SQL text for every row) and its parameters, for an engine that
   * inserts row by row; without it the engine takes the lists.
   */
  one?(row: R): { sql: string; parameters: readonly unknown[] };
}

/** What differs between SQLite and Postgres. Picked by `engineFor` (an instance) or when opening (the URL). */
export interface Engine {
  readonly kind: EngineKind;
  /** How `doctor` and the config checks read the app's tables (columns, indexes, privileges). */
  readonly introspection: Introspection;

  // -- opening
  /** Opens the database at `location` (of this engine's kind). */
  open(location: DbLocation, opts: { readonly: boolean }): Promise<OpenDb>;
  /** A database error met while a command runs, as one line, or null when it is not this engine's. */
  describeError(e: unknown): CliError | null;

  // -- the tool's own tables
  /** Adds an auto-numbered `id` primary key, never reusing an id. */
  withAutoId<T extends string>(table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'>;
  /**
   * Runs every pending migration with the tool's migrator (made for the schema the engine names),
   * all or nothing; returns the results (an error is thrown, mapped).
   */
  migrate<DB>(db: Kysely<DB>, migrator: (schema?: string) => Migrator): Promise<MigrationResultSet>;
  /** Names of the tables in the schema where the tool keeps its own. */
  ownSchemaTables<DB>(db: Kysely<DB>): Promise<Set<string>>;
  /** A reference to one of the tool's own tables, in that schema. */
  ownTable<DB>(db: Kysely<DB>, name: string): Promise<RawBuilder<unknown>>;
  /** Whether an error says a table does not exist. */
  isMissingTable(e: unknown): boolean;
  /** Whether an error is a unique constraint refusing a row. */
  isUniqueViolation(e: unknown): boolean;

  // -- writing
  /**
   * Whether the tool's key columns compare byte by byte (SQLite's default BINARY collation): keys
   * sorted by their bytes then hold, between the first and the last, every key that one range of
   * an index finds (Postgres compares text by the database's collation).
   */
  readonly bytewiseKeys: boolean;
  /** A write transaction that holds the write lock from its start. */
  writeTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
  /** Parts of at most `max` for statements that cannot be padded (inserts, updates). */
  statementParts<T>(items: readonly T[], max: number): T[][];
  /** Inserts rows, each unless it conflicts, and returns the keys of those inserted. Inside a transaction. */
  insertReportingKeys<DB, R>(trx: Kysely<DB>, rows: readonly R[], insert: KeyedInsert<R>): Promise<string[]>;
  /** Serialises the tool's writers per payment key until the transaction ends (where the write lock does not). */
  lockPaymentKeys<DB>(trx: Kysely<DB>, keys: readonly string[]): Promise<void>;
  /** Takes the run lock (see lock.ts). */
  acquireRunLock(open: OpenDb, claim: LockClaim, opts: LockOptions): Promise<HeldLock>;

  // -- the app's tables
  /** A constant of the config as a value this engine binds (booleans differ). */
  constant(v: SqlConstant): RawBuilder<unknown>;
  /** A column of the app's table as text, for comparing with text from Stripe. */
  asText(column: RawBuilder<unknown>): RawBuilder<unknown>;
  /** A user id read out of the app's table, as the exact text the tool compares and writes. */
  idAsRead(column: RawBuilder<unknown>): RawBuilder<unknown>;
  /** `id IN (values)`, compared as the id column's type allows; null when no value can be an id of it. */
  idIn(column: RawBuilder<unknown>, values: readonly string[], idType: string | null): RawBuilder<boolean> | null;
  /** Whether a users id column of this type holds integers (and so no spaces). */
  isIntegerType(idType: string): boolean;
  /** The type of the users table's id column as verifyUsersTable reads it, or null when not found. */
  usersIdType<DB>(db: Kysely<DB>, cfg: UsersConfig): Promise<string | null>;
  /** Whether a reference the app wrote is a plain `pi_…` or `cs_test_…`/`cs_live_…` id. */
  readableRef(ref: RawBuilder<unknown>): RawBuilder<boolean>;
  /** Whether two names of tables or columns name the same one. */
  sameName(a: string, b: string): boolean;
  /** The configured users table among `tables`, found as a query finds it. */
  findTable<DB>(
    db: Kysely<DB>,
    tables: readonly TableMetadata[],
    schema: string | null,
    table: string,
  ): Promise<TableMetadata | undefined>;
  /** What to do about a users table not found (given the tables of that name in other schemas). */
  missingTableHint(schema: string | null, table: string, elsewhere: readonly string[]): string;
  /** One name per table whatever way a config spells it, so that two spellings compare equal. */
  tableIdentity(found: { schema: string | null; name: string }, configured: { schema: string | null }): string;
}
