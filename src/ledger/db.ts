import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type Migration,
  type MigrationProvider,
} from 'kysely';
import type pg from 'pg';
import { CliError, ConfigError, DatabaseError } from '../errors.js';
import { engineOf, ownSchemaTables, type EngineKind } from './engine.js';
import { maskDbLocation, maskDbUrl } from './mask.js';
import { noteSqliteOpened, sqliteError, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-errors.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-payments.js';
import * as m0003 from './migrations/0003-support.js';
import * as m0004 from './migrations/0004-cron.js';
import * as m0005 from './migrations/0005-baseline.js';
import * as m0006 from './migrations/0006-fewer-indexes.js';
import * as m0007 from './migrations/0007-record-session-index.js';
import * as m0008 from './migrations/0008-ledger-session-index.js';
import * as m0009 from './migrations/0009-ledger-matched-by.js';
import * as m0010 from './migrations/0010-review-detail.js';
import type { Database } from './schema.js';

/** Where `--db` / DATABASE_URL points. `label` is what messages show: never a password. */
export type DbLocation =
  { kind: 'sqlite'; path: string; label: string } | { kind: 'postgres'; label: string; connection: PgConnection };

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

export { maskDbUrl } from './mask.js';

/** `--db` / DATABASE_URL: a file path, `sqlite:PATH`, or a `postgres://` / `postgresql://` URL. */
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

const PG_PARAMS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'connect_timeout',
  'application_name',
  'options',
  'host',
  'port',
  'user',
  'password',
  'dbname',
];
const PG_URL_FORM =
  'postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=require (percent-encode special characters in the password)';

function parsePostgresUrl(raw: string, cwd: string): DbLocation {
  const label = maskDbLocation(raw);
  let u: URL;
  let hostless = false;
  try {
    u = new URL(raw);
  } catch {
    // libpq takes a user without a host (postgres://app@/db?host=/var/run/postgresql); URL does not.
    try {
      u = new URL(raw.replace('@/', '@hostless.invalid/'));
      hostless = true;
    } catch {
      throw new ConfigError(`not a valid Postgres URL: ${label}`, `the form is ${PG_URL_FORM}`);
    }
  }
  const params = new Map<string, string>();
  for (const [k, v] of u.searchParams) {
    if (!PG_PARAMS.includes(k)) {
      throw new ConfigError(
        `unsupported parameter '${k}' in the database URL ${label}`,
        `supported: ${PG_PARAMS.join(', ')}`,
      );
    }
    params.set(k, v);
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new ConfigError(`the database URL ${label} has a malformed percent-encoding`, `the form is ${PG_URL_FORM}`);
    }
  };
  const host = params.get('host') ?? ((hostless ? '' : u.hostname.replace(/^\[(.*)\]$/, '$1')) || undefined);
  const portText = params.get('port') ?? u.port;
  const port = portText === '' ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new ConfigError(`bad port '${portText}' in the database URL ${label}`);
  }
  const timeoutText = params.get('connect_timeout');
  const timeoutS = timeoutText === undefined ? 10 : Number(timeoutText);
  if (!Number.isFinite(timeoutS) || timeoutS < 0)
    throw new ConfigError(
      `bad connect_timeout '${timeoutText}' in the database URL ${label}`,
      'seconds, e.g. connect_timeout=10',
    );

  const readFile = (param: string): string => {
    const file = resolve(cwd, params.get(param)!);
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(
        `cannot read ${param} ${file} (from the database URL): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  // TLS, from sslmode as libpq names its values. Unlike libpq, `require` verifies the server's
  // certificate (that is what pg does): trust a private CA with sslrootcert=FILE or NODE_EXTRA_CA_CERTS.
  const anyCertParam = params.has('sslrootcert') || params.has('sslcert') || params.has('sslkey');
  const sslmode = params.get('sslmode') ?? (anyCertParam ? 'require' : 'disable');
  let ssl: PgConnection['ssl'];
  switch (sslmode) {
    case 'disable':
      if (anyCertParam)
        throw new ConfigError(
          `the database URL ${label} says sslmode=disable but names certificate files`,
          'drop sslmode=disable to use TLS, or drop sslrootcert/sslcert/sslkey',
        );
      ssl = false;
      break;
    case 'require':
    case 'verify-ca':
    case 'verify-full':
    case 'no-verify': {
      ssl = { rejectUnauthorized: sslmode !== 'no-verify' };
      const root = params.get('sslrootcert');
      if (root !== undefined && root !== 'system') ssl.ca = readFile('sslrootcert');
      if (params.has('sslcert')) ssl.cert = readFile('sslcert');
      if (params.has('sslkey')) ssl.key = readFile('sslkey');
      // verify-ca: the chain is checked, the host name is not.
      if (sslmode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
      break;
    }
    case 'allow':
    case 'prefer':
      throw new ConfigError(
        `sslmode=${sslmode} (TLS if the server offers it, else plain) is not supported: the database URL must say whether to use TLS`,
        'use sslmode=require (TLS, certificate verified), sslmode=verify-full, or sslmode=disable (no TLS)',
      );
    default:
      throw new ConfigError(
        `unknown sslmode '${sslmode}' in the database URL ${label}`,
        'use disable, require, verify-ca, verify-full or no-verify',
      );
  }
  const password = params.get('password') ?? (u.password ? decode(u.password) : undefined);
  return {
    kind: 'postgres',
    label,
    connection: {
      host,
      port,
      user: params.get('user') ?? (u.username ? decode(u.username) : undefined),
      password,
      database: params.get('dbname') ?? (u.pathname.length > 1 ? decode(u.pathname.slice(1)) : undefined),
      ssl,
      sslmode,
      connectTimeoutMs: Math.round(timeoutS * 1000),
      applicationName: params.get('application_name') ?? 'stripe-credits',
      options: params.get('options'),
    },
  };
}

/** A connection of its own, outside the pool: session-level state (the run lock) lives on it. */
export interface SqlSession {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Ends the session; whatever it held (advisory locks) is released by the server. */
  close(): Promise<void>;
}

/** The engine switch: what differs between SQLite and Postgres beyond SQL (see engine.ts for that). */
export interface Engine {
  kind: EngineKind;
  /** Postgres only: opens a dedicated session. */
  session?(): Promise<SqlSession>;
}

export interface OpenDb {
  db: Kysely<Database>;
  location: DbLocation;
  engine: Engine;
  readonly: boolean;
  close(): Promise<void>;
}

/**
 * Opens the app's database. Read-only openings (a dry run, the commands that only read) cannot
 * write: SQLite opens the file read-only (it stays byte-for-byte unchanged); on Postgres every
 * session runs with `default_transaction_read_only`. A SQLite file must exist: it is the app's own
 * database, the one that holds its users table, and creating an empty one would only hide a wrong
 * path. A Postgres server is asked one query at once, so that a wrong password, a missing database
 * or an unreachable server is reported here, in one line.
 */
export async function openDatabase(location: DbLocation, opts: { readonly: boolean }): Promise<OpenDb> {
  if (location.kind === 'postgres') return openPostgres(location, opts);
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
  const opened = { label: location.label, readonly: opts.readonly };
  noteSqliteOpened(opened);
  let sqlite: SQLite.Database;
  try {
    sqlite = new SQLite(location.path, { readonly: opts.readonly, fileMustExist: true });
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // Touch the file so a non-database file is reported here, as a configuration error.
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (e) {
    throw (
      sqliteError(e, opened) ??
      new ConfigError(`cannot open SQLite database ${location.label}: ${(e as Error).message}`)
    );
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCache(sqlite) }) });
  return {
    db,
    location,
    engine: { kind: 'sqlite' },
    readonly: opts.readonly,
    close: () => db.destroy(),
  };
}

/**
 * The SQLite connection as Kysely sees it, preparing each distinct statement once. Kysely's driver
 * prepares every query it runs; a reconcile runs the same few statements thousands of times (a
 * lookup of 1,000 keys, an insert of 1,000 rows: the same text each time), and compiling those
 * cost about a tenth of deciding and writing. SQLite re-prepares a statement by itself when the
 * schema changes. A statement still being iterated (a streamed query) is not handed out twice.
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

/** int8 (bigint: counts, sums, identity ids) as a number when it is exact, else as its text (a snowflake user id). */
function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** The pg module: loaded only when a database is Postgres (it is a tenth of a second of start-up for every SQLite run). */
type Pg = typeof pg;

function pgTypes(pgm: Pg) {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === 20 && format !== 'binary'
        ? parseInt8
        : pgm.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
}

/**
 * Every session gives up on a lock it waits for, and on a statement, after a while: a run blocked by
 * another session (a `LOCK TABLE`, a long migration of the app's) would otherwise hold its own run
 * lock for ever. Set once connected, not as startup options (PgBouncer and other poolers refuse
 * those), and only where the URL's own `options` does not set the value.
 */
const PG_SESSION_DEFAULTS = { lock_timeout: '30s', statement_timeout: '300s' } as const;

/** The SET statements a new connection runs: the defaults the URL's `options` leaves unset, and read-only. */
function sessionSetup(c: PgConnection, readonly: boolean): string[] {
  const own = c.options ?? '';
  const sets = Object.entries(PG_SESSION_DEFAULTS)
    .filter(([name]) => !own.includes(name))
    .map(([name, value]) => `SET ${name} = '${value}'`);
  return readonly ? [...sets, 'SET default_transaction_read_only = on'] : sets;
}

function pgClientConfig(pgm: Pg, c: PgConnection): pg.ClientConfig {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl: c.ssl,
    connectionTimeoutMillis: c.connectTimeoutMs,
    application_name: c.applicationName,
    options: c.options,
    keepAlive: true,
    types: pgTypes(pgm),
  };
}

/**
 * Drops a client's socket. A connection that failed on our side (no password to answer the
 * server's SCRAM request) is otherwise left open until the server's authentication timeout, and
 * keeps the process alive for a minute after it has said what went wrong.
 */
function dropSocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

async function openPostgres(
  location: Extract<DbLocation, { kind: 'postgres' }>,
  opts: { readonly: boolean },
): Promise<OpenDb> {
  const pgm: Pg = (await import('pg')).default;
  const clients = new Set<pg.Client>();
  class TrackedClient extends pgm.Client {
    constructor(config?: pg.ClientConfig) {
      super(config);
      clients.add(this);
      // A connection lost while checked out of the pool (between the statements of a transaction,
      // or of a migration) emits 'error', and pg-pool listens only while a client is idle: without
      // this, the event would end the process with a stack trace. The next query on the client
      // fails instead, and the pool discards the client when it comes back.
      this.on('error', () => {});
    }
  }
  const pool = new pgm.Pool({
    ...pgClientConfig(pgm, location.connection),
    max: 4,
    idleTimeoutMillis: 30_000,
    Client: TrackedClient,
  });
  const setup = sessionSetup(location.connection, opts.readonly);
  // A pooled connection that dies while idle is reported by the next query that needs one; without
  // a listener, pg would throw the error event and end the process with a stack trace.
  pool.on('error', () => {});
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool,
      onCreateConnection: async (conn) => {
        for (const statement of setup) await conn.executeQuery(CompiledQuery.raw(statement));
      },
    }),
  });
  try {
    const r = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
    if (!r.rows[0]?.schema) {
      throw new ConfigError(
        `${location.label}: the search path names no schema that exists, so there is nowhere to keep the tool's tables`,
        "create the schema, or set the role's search_path (ALTER ROLE … SET search_path = …), or add options=-c%20search_path%3DSCHEMA to the URL",
      );
    }
  } catch (e) {
    for (const c of clients) dropSocket(c);
    await db.destroy().catch(() => {});
    throw e instanceof CliError ? e : connectError(e, location);
  }
  const engine: Engine = {
    kind: 'postgres',
    async session() {
      const client = new pgm.Client(pgClientConfig(pgm, location.connection));
      client.on('error', () => {}); // a lost session is reported by the next query on it
      try {
        await client.connect();
        for (const statement of setup) await client.query(statement);
      } catch (e) {
        dropSocket(client);
        await client.end().catch(() => {});
        throw connectError(e, location);
      }
      return {
        query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
        close: () => client.end(),
      };
    },
  };
  return { db, location, engine, readonly: opts.readonly, close: () => db.destroy() };
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ENOENT: 'no such socket',
};

const CERT_ERRORS =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_SIGNATURE_FAILURE)$/;
const TRUST_HINT =
  "pg verifies the server's certificate (libpq's sslmode=require does not): trust its CA with sslrootcert=/path/to/ca.pem in the URL or NODE_EXTRA_CA_CERTS=/path/to/ca.pem; sslmode=verify-ca skips the host name check; sslmode=no-verify encrypts without verifying (not safe against an impostor)";

function scrub(text: string, password: string | undefined): string {
  let out = text;
  if (password) out = out.split(password).join('***');
  return maskDbUrl(out);
}

/** A failure to connect to Postgres, as one line: exit 2 when the URL or credentials are wrong, 1 when the server cannot be reached. */
export function connectError(e: unknown, location: Extract<DbLocation, { kind: 'postgres' }>): CliError {
  const err = e as { code?: string; message?: string };
  const c = location.connection;
  const where = `${c.host ?? 'localhost'}${c.port ? `:${c.port}` : ''}`;
  const msg = scrub(err.message ?? String(e), c.password);
  const code = err.code ?? '';
  if (code === '28P01') {
    return new ConfigError(
      `cannot connect to ${location.label}: password authentication failed for user "${c.user ?? '?'}"`,
      'check the user and password in --db / DATABASE_URL (percent-encode special characters in the password)',
      { cause: e },
    );
  }
  if (code === '28000') {
    return new ConfigError(
      `cannot connect to ${location.label}: ${msg}`,
      /no encryption/.test(msg)
        ? 'the server accepts only TLS connections: add ?sslmode=require to the URL'
        : "the server's pg_hba.conf does not let this user in from here",
      { cause: e },
    );
  }
  if (code === '3D000') {
    return new ConfigError(
      `cannot connect to ${location.label}: database "${c.database ?? c.user ?? '?'}" does not exist on ${where}`,
      "--db must name the app's existing database, the one that holds its users table",
      { cause: e },
    );
  }
  if (code === '42501')
    return new ConfigError(
      `cannot connect to ${location.label}: ${msg}`,
      "GRANT CONNECT ON DATABASE … TO the tool's user",
      { cause: e },
    );
  if (CERT_ERRORS.test(code)) {
    return new ConfigError(
      `cannot connect to ${location.label}: the server's TLS certificate is not trusted (${msg})`,
      TRUST_HINT,
      { cause: e },
    );
  }
  if (/does not support SSL/i.test(msg)) {
    return new ConfigError(
      `cannot connect to ${location.label}: the server does not support TLS, and the URL says sslmode=${c.sslmode}`,
      'use sslmode=disable for a server without TLS (a local one), or enable TLS on the server',
      { cause: e },
    );
  }
  if (/SASL|password must be a string|no password/i.test(msg)) {
    return new ConfigError(
      `cannot connect to ${location.label}: the server asks for a password and none was given`,
      'put it in the URL (postgres://USER:PASSWORD@HOST/DB), or in PGPASSWORD or ~/.pgpass',
      { cause: e },
    );
  }
  if (UNREACHABLE[code]) {
    const hint = /^(ENOTFOUND|EAI_AGAIN)$/.test(code)
      ? 'check the host name in --db / DATABASE_URL; a rerun is safe'
      : 'check that the server is running and reachable from here; a rerun is safe';
    return new CliError(`cannot reach the database server at ${where}: ${UNREACHABLE[code]}`, 1, hint, { cause: e });
  }
  if (connectionLost(e)) {
    return new DatabaseError(
      `lost the connection to the database at ${where} while connecting: ${msg}; a rerun is safe`,
      { cause: e },
    );
  }
  if (/timeout|timed out/i.test(msg)) {
    return new CliError(
      `cannot reach the database server at ${where}: no answer within ${c.connectTimeoutMs / 1000} s`,
      1,
      'check that the server is running and reachable from here (connect_timeout=SECONDS in the URL waits longer)',
      { cause: e },
    );
  }
  return new DatabaseError(`cannot connect to ${location.label}: ${msg}`, { cause: e });
}

/** Whether an error says the connection to the server went away (a rerun is safe). */
function connectionLost(e: unknown): boolean {
  const err = e as { code?: unknown; severity?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  const isPg = typeof err.severity === 'string';
  return (
    (isPg && /^(08|57P)/.test(code)) ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /Connection terminated|connection (was )?(closed|reset)|connection has been discarded|not queryable|terminating connection/i.test(
      String(err.message ?? ''),
    )
  );
}

/**
 * A database error met while a command runs (after the connection was made), as one line. Returns
 * null for errors that are not the database's. Used by the CLI, the one place that maps errors.
 */
export function databaseError(e: unknown): CliError | null {
  const err = e as { code?: unknown; severity?: unknown; message?: unknown };
  if (!(e instanceof Error) || typeof err.message !== 'string') return null;
  const fromSqlite = sqliteError(e);
  if (fromSqlite) return fromSqlite;
  const code = typeof err.code === 'string' ? err.code : '';
  const isPg = typeof err.severity === 'string' && /^[0-9A-Z]{5}$/.test(code);
  const msg = maskDbUrl(err.message as string);
  if (isPg && code === '42501') {
    return new ConfigError(
      `the database refused: ${msg}`,
      "the tool's database user lacks a privilege: see docs/postgres.md for the grants it needs",
      { cause: e },
    );
  }
  if (connectionLost(e)) {
    return new DatabaseError(
      `lost the connection to the database: ${msg}; what was written is consistent, a rerun is safe`,
      { cause: e },
    );
  }
  if (isPg && code === '55P03') {
    return new CliError(
      `another database session held a lock this run needed for longer than lock_timeout (${msg}): what was written is consistent`,
      75,
      'cron will try again on its next tick; if this repeats, look for what holds locks on the tables (pg_locks); options=-c%20lock_timeout%3D… in the URL waits longer',
      { cause: e },
    );
  }
  if (isPg && code === '57014') {
    return new DatabaseError(
      `the database cancelled a statement (statement_timeout, or an administrator): ${msg}; what was written is consistent, a rerun is safe`,
      { cause: e },
    );
  }
  if (isPg) return new DatabaseError(`database error: ${msg} (SQLSTATE ${code})`, { cause: e });
  return null;
}

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-payments': m0002,
  '0003-support': m0003,
  '0004-cron': m0004,
  '0005-baseline': m0005,
  '0006-fewer-indexes': m0006,
  '0007-record-session-index': m0007,
  '0008-ledger-session-index': m0008,
  '0009-ledger-matched-by': m0009,
  '0010-review-detail': m0010,
};

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/**
 * Own migration bookkeeping tables, so the tool never collides with an app that also uses Kysely.
 * On Postgres they are named in the schema the tool's tables go to (current_schema()): Kysely looks
 * for them in every schema otherwise, and would take another schema's for this one's.
 */
function migrator(db: Kysely<Database>, schema?: string): Migrator {
  return new Migrator({
    db,
    provider: new InCodeMigrations(),
    migrationTableName: 'stripe_credits_migration',
    migrationLockTableName: 'stripe_credits_migration_lock',
    migrationTableSchema: schema,
    // Migrations are independent of each other; a database migrated by a development build between
    // two of them must still take the one numbered before its newest.
    allowUnorderedMigrations: true,
  });
}

function migrationFailed(failed: string | undefined, error: unknown): CliError {
  const fromSqlite = sqliteError(error);
  if (fromSqlite) return fromSqlite;
  const code = (error as { code?: unknown }).code;
  const message = `${failed ? `migration ${failed}` : "migrating the tool's tables"} failed: ${maskDbUrl((error as Error).message ?? String(error))}`;
  if (connectionLost(error)) {
    return new DatabaseError(
      `lost the connection to the database while migrating the tool's tables (${maskDbUrl((error as Error).message ?? String(error))}): nothing half-done is kept, a rerun is safe`,
      { cause: error },
    );
  }
  if (code === '42501') {
    return new ConfigError(
      message,
      "the tool's database user needs CREATE on the schema and every privilege on the tool's own tables: see docs/postgres.md",
      { cause: error },
    );
  }
  return new DatabaseError(message, { cause: error });
}

/**
 * Brings the tool's tables up to date. Returns the names of the migrations applied now.
 *
 * Several processes may start at once (cron overlapping a person's run, several machines).
 * Postgres: Kysely's Migrator takes its migration lock (an advisory lock) and runs every pending
 * migration in one transaction (Postgres DDL is transactional), so the second process waits, then
 * finds nothing left to do. SQLite: Kysely takes no lock there and runs each statement on its own,
 * so the whole migration runs inside one `BEGIN IMMEDIATE` transaction: the second process waits
 * for the first (busy_timeout), and a failed migration leaves no half-created table behind.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  if (engineOf(db) === 'postgres') {
    let outcome: Awaited<ReturnType<Migrator['migrateToLatest']>>;
    try {
      const { rows } = await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db);
      outcome = await migrator(db, rows[0]!.schema).migrateToLatest();
    } catch (e) {
      throw migrationFailed(undefined, e);
    }
    const { error, results } = outcome;
    if (error) throw migrationFailed(results?.find((r) => r.status === 'Error')?.migrationName, error);
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }
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
    throw migrationFailed(results?.find((r) => r.status === 'Error')?.migrationName, error);
  }
  await sql`COMMIT`.execute(db);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The migrations this version of the tool has, oldest first. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();

/**
 * The migrations the database has had, read from the bookkeeping table directly (never through the
 * Migrator, which may create its tables), or null when it has none. On Postgres, the table in the
 * schema where the tool keeps its own (current_schema()).
 */
export async function appliedMigrations(db: Kysely<Database>): Promise<string[] | null> {
  if (!(await ownSchemaTables(db)).has('stripe_credits_migration')) return null;
  let table = sql.id('stripe_credits_migration');
  if (engineOf(db) === 'postgres') {
    const { rows } = await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db);
    table = sql.id(rows[0]!.schema, 'stripe_credits_migration');
  }
  const r = await sql<{ name: string }>`SELECT name FROM ${table} ORDER BY name`.execute(db);
  return r.rows.map((x) => x.name);
}

/** Whether the tool's tables exist yet (a dry run on a database the tool never touched has none). */
export async function toolTablesExist(db: Kysely<Database>): Promise<boolean> {
  return (await ownSchemaTables(db)).has('credit_ledger');
}
