import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { CliError, ConfigError, DatabaseError } from '../../errors.js';
import type { Engine, OpenDb, PgConnection, PostgresLocation, SqlSession } from './types.js';
import { maskDbUrl } from '../mask.js';
import type { Database } from '../schema.js';

/** The pg module: loaded only when a database is Postgres (loading it would slow every SQLite run's start). */
type Pg = typeof pg;

/**
 * Opens a pool to the server and asks it one query at once, so that a wrong password, a missing
 * database or an unreachable server is reported here, in one line. Read-only openings run every
 * session with `default_transaction_read_only`.
 */
export async function openPostgres(
  location: PostgresLocation,
  opts: { readonly: boolean },
  engine: Engine,
): Promise<OpenDb> {
  const pgm: Pg = (await import('pg')).default;
  const setup = sessionSetup(location.connection, opts.readonly);
  const pool = new TrackedPool(pgm, location.connection);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: pool.pool,
      onCreateConnection: async (conn) => {
        for (const statement of setup) await conn.executeQuery(CompiledQuery.raw(statement));
      },
    }),
  });
  try {
    await checkSchema(db, location);
  } catch (e) {
    pool.dropSockets();
    await db.destroy().catch(() => {});
    throw e instanceof CliError ? e : connectError(e, location);
  }
  const session = () => openSession(pgm, location, setup);
  return { db, location, engine, readonly: opts.readonly, session, close: () => db.destroy() };
}

/** The pool, and every client it made (so that a failed opening can drop their sockets). */
class TrackedPool {
  readonly pool: pg.Pool;
  private readonly clients = new Set<pg.Client>();

  constructor(pgm: Pg, connection: PgConnection) {
    const clients = this.clients;
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
    this.pool = new pgm.Pool({
      ...pgClientConfig(pgm, connection),
      max: 4,
      idleTimeoutMillis: 30_000,
      Client: TrackedClient,
    });
    // A pooled connection that dies while idle is reported by the next query that needs one; without
    // a listener, pg would throw the error event and end the process with a stack trace.
    this.pool.on('error', () => {});
  }

  dropSockets(): void {
    for (const c of this.clients) dropSocket(c);
  }
}

/** The tool keeps its tables in current_schema(): a search path naming no existing schema leaves nowhere. */
async function checkSchema(db: Kysely<Database>, location: PostgresLocation): Promise<void> {
  const r = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
  if (!r.rows[0]?.schema) {
    throw new ConfigError(
      `${location.label}: the search path names no schema that exists, so there is nowhere to keep the tool's tables`,
      "create the schema, or set the role's search_path (ALTER ROLE … SET search_path = …), or add options=-c%20search_path%3DSCHEMA to the URL",
    );
  }
}

/** A connection of its own, outside the pool, set up as the pool's are. */
async function openSession(pgm: Pg, location: PostgresLocation, setup: string[]): Promise<SqlSession> {
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
}

/** int8 (bigint: counts, sums, identity ids) as a number when it is exact, else as its text (a snowflake user id). */
function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

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

/** A failed connection attempt as the server or the network reported it, for the messages below. */
interface Attempt {
  e: unknown;
  code: string;
  /** The error's message, with the password and any URL masked. */
  msg: string;
  location: PostgresLocation;
  /** host:port, as messages name the server. */
  where: string;
}

/** A failure to connect to Postgres, as one line: exit 2 when the URL or credentials are wrong, 1 when the server cannot be reached. */
function connectError(e: unknown, location: PostgresLocation): CliError {
  const err = e as { code?: string; message?: string };
  const c = location.connection;
  const a: Attempt = {
    e,
    code: err.code ?? '',
    msg: scrub(err.message ?? String(e), c.password),
    location,
    where: `${c.host ?? 'localhost'}${c.port ? `:${c.port}` : ''}`,
  };
  return (
    refused(a) ??
    tlsRefused(a) ??
    unreachable(a) ??
    new DatabaseError(`cannot connect to ${location.label}: ${a.msg}`, { cause: e })
  );
}

/** The server answered and refused: the credentials, the database name or a privilege are wrong (exit 2). */
function refused({ e, code, msg, location, where }: Attempt): CliError | null {
  const c = location.connection;
  const fail = (what: string, hint: string) =>
    new ConfigError(`cannot connect to ${location.label}: ${what}`, hint, { cause: e });
  if (code === '28P01')
    return fail(
      `password authentication failed for user "${c.user ?? '?'}"`,
      'check the user and password in --db / DATABASE_URL (percent-encode special characters in the password)',
    );
  if (code === '28000')
    return fail(
      msg,
      /no encryption/.test(msg)
        ? 'the server accepts only TLS connections: add ?sslmode=require to the URL'
        : "the server's pg_hba.conf does not let this user in from here",
    );
  if (code === '3D000')
    return fail(
      `database "${c.database ?? c.user ?? '?'}" does not exist on ${where}`,
      "--db must name the app's existing database, the one that holds its users table",
    );
  if (code === '42501') return fail(msg, "GRANT CONNECT ON DATABASE … TO the tool's user");
  return null;
}

/** TLS or the password exchange failed on this side: the URL must say more (exit 2). */
function tlsRefused({ e, code, msg, location }: Attempt): CliError | null {
  const fail = (what: string, hint: string) =>
    new ConfigError(`cannot connect to ${location.label}: ${what}`, hint, { cause: e });
  if (CERT_ERRORS.test(code)) return fail(`the server's TLS certificate is not trusted (${msg})`, TRUST_HINT);
  if (/does not support SSL/i.test(msg))
    return fail(
      `the server does not support TLS, and the URL says sslmode=${location.connection.sslmode}`,
      'use sslmode=disable for a server without TLS (a local one), or enable TLS on the server',
    );
  if (/SASL|password must be a string|no password/i.test(msg))
    return fail(
      'the server asks for a password and none was given',
      'put it in the URL (postgres://USER:PASSWORD@HOST/DB), or in PGPASSWORD or ~/.pgpass',
    );
  return null;
}

/** The server could not be reached, or went away while connecting: a rerun is safe (exit 1). */
function unreachable({ e, code, msg, location, where }: Attempt): CliError | null {
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
      `cannot reach the database server at ${where}: no answer within ${location.connection.connectTimeoutMs / 1000} s`,
      1,
      'check that the server is running and reachable from here (connect_timeout=SECONDS in the URL waits longer)',
      { cause: e },
    );
  }
  return null;
}

/** Whether an error says the connection to the server went away (a rerun is safe). */
export function connectionLost(e: unknown): boolean {
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
