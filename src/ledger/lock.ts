import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { CliError } from '../errors.js';
import type { OpenDb, SqlSession } from './db.js';
import { isMissingTable } from './engine.js';
import type { Database } from './schema.js';

/** Another apply run holds the lock: exit 75 (EX_TEMPFAIL), try again later. */
export class LockHeldError extends CliError {
  constructor(message: string) {
    super(message, 75, 'another reconcile is writing to this ledger; cron will try again on its next tick');
  }
}

export interface LockOptions {
  /** A lock whose heartbeat is older than this is taken over (its holder died on another host). */
  staleAfterMs: number;
  heartbeatMs: number;
  now?: () => number;
}

export const DEFAULT_LOCK: LockOptions = { staleAfterMs: 120_000, heartbeatMs: 15_000 };

export interface HeldLock {
  /**
   * Throws LockLostError when the lock is no longer this run's: Postgres, its session ended (the
   * server, a network cut or an idle timeout closed it, and the advisory lock went with it);
   * SQLite, another run took it over as stale (this one stalled past `staleAfterMs`). A run asks
   * before it writes, so that two runs never write the same plan at once. (Exactly-once does not
   * depend on it: the unique constraint decides each insert.)
   */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/** The run lock was lost before writing: exit 75 like a lock held elsewhere; nothing was written. */
export class LockLostError extends CliError {
  constructor(detail: string) {
    super(
      `the run lock was lost before writing (${detail}): nothing was written`,
      75,
      'cron will try again on its next tick; if this repeats, check what ends database sessions or stalls the run',
    );
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The advisory-lock key of the run lock on Postgres: one per schema that holds the tool's tables
 * (advisory locks are per database already), so two ledgers in one database never block each other.
 */
export function runLockKey(schema: string): string {
  const digest = createHash('sha256').update(`stripe-credits reconcile lock ${schema}`).digest();
  return BigInt.asIntN(64, digest.readBigUInt64BE(0)).toString();
}

/** The key of the short lock under which the run lock is taken and its holder recorded. */
function registrationKey(key: string): string {
  return BigInt.asIntN(64, BigInt(key) ^ 0x5c5c5c5cn).toString();
}

interface LockRow {
  holder: string;
  pid: number | string;
  host: string;
  acquired_at: string;
}

/** Who holds the lock, from its row: holder (pid on host) since when. */
function holderOf(row: LockRow): string {
  return `${row.holder} (pid ${row.pid} on ${row.host}) since ${row.acquired_at}`;
}

function heldBy(row: LockRow): string {
  return `another run holds the lock: ${holderOf(row)}`;
}

/**
 * Takes the run lock. The lock only keeps runs from doing the same work twice: exactly-once rests
 * on the unique constraint, so `assign` and the library never take it.
 *
 * Postgres: `pg_try_advisory_lock` on a session of its own, held for the whole run. The server
 * releases it when that session ends, however the process ends (kill -9 included), so a lock is
 * never left behind and there is nothing to take over. The holder also writes who it is and since
 * when into `stripe_credits_lock`, which is what a refused run names; the advisory lock decides.
 * (This needs real sessions: PgBouncer in transaction pooling mode breaks session locks.)
 *
 * SQLite: a row in `stripe_credits_lock`, taken inside an immediate transaction so that two
 * processes cannot both see it free. A lock left by a process that died is not honoured: on the
 * same host when that pid is gone, elsewhere once its heartbeat is older than `staleAfterMs`.
 */
export async function acquireRunLock(
  open: OpenDb,
  holder: string,
  opts: LockOptions = DEFAULT_LOCK,
): Promise<HeldLock> {
  const { db } = open;
  const now = opts.now ?? Date.now;
  const token = randomBytes(12).toString('hex');
  const host = hostname();
  const at = () => new Date(now()).toISOString();
  const row = () => ({
    name: 'reconcile',
    token,
    holder,
    host,
    pid: process.pid,
    acquired_at: at(),
    heartbeat_at: at(),
  });

  let session: SqlSession | null = null;
  let key = '';
  if (open.engine.session) {
    session = await open.engine.session();
    try {
      const [s] = await session.query<{ schema: string }>('SELECT current_schema() AS schema');
      key = runLockKey(s!.schema);
      // Taking the lock and recording the holder happen under a second, transaction-scoped lock
      // (held for microseconds), which a refused run takes too before it reads the row: so the row
      // it reads is always the current holder's, never one not written yet or left by a dead run.
      await session.query('BEGIN');
      await session.query('SELECT pg_advisory_xact_lock($1::bigint)', [registrationKey(key)]);
      const [got] = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      if (!got?.ok) {
        const [current] = await session.query<LockRow>(
          "SELECT holder, pid, host, acquired_at FROM stripe_credits_lock WHERE name = 'reconcile'",
        );
        await session.query('COMMIT');
        throw new LockHeldError(current ? heldBy(current) : 'another run holds the lock');
      }
      // A row left by a holder that died says nothing any more: the advisory lock is ours.
      const r = row();
      await session.query("DELETE FROM stripe_credits_lock WHERE name = 'reconcile'");
      await session.query(
        'INSERT INTO stripe_credits_lock (name, token, holder, host, pid, acquired_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [r.name, r.token, r.holder, r.host, r.pid, r.acquired_at, r.heartbeat_at],
      );
      await session.query('COMMIT');
    } catch (e) {
      // Ending the session rolls back what is open and releases the advisory lock if it was taken.
      await session.close().catch(() => {});
      throw e;
    }
  } else {
    await sql`BEGIN IMMEDIATE`.execute(db).catch((e: { code?: string }) => {
      if (e.code === 'SQLITE_BUSY')
        throw new LockHeldError('another process is writing to this database (it stayed locked for 10 s)');
      throw e;
    });
    try {
      const current = await db
        .selectFrom('stripe_credits_lock')
        .selectAll()
        .where('name', '=', 'reconcile')
        .executeTakeFirst();
      if (current) {
        const heartbeatAge = now() - Date.parse(current.heartbeat_at);
        const deadHere = current.host === host && !processAlive(Number(current.pid));
        if (!deadHere && heartbeatAge < opts.staleAfterMs) throw new LockHeldError(heldBy(current));
        await db.deleteFrom('stripe_credits_lock').where('name', '=', 'reconcile').execute();
      }
      await db.insertInto('stripe_credits_lock').values(row()).execute();
      await sql`COMMIT`.execute(db);
    } catch (e) {
      await sql`ROLLBACK`.execute(db).catch(() => {});
      // Still busy after busy_timeout: another process holds a write transaction, i.e. is writing.
      if ((e as { code?: string }).code === 'SQLITE_BUSY')
        throw new LockHeldError('another process is writing to this database (it stayed locked for 10 s)');
      throw e;
    }
  }

  // On Postgres the beat goes through the lock's own session, so that it is never idle for long
  // (a server's idle_session_timeout would end it, and the lock with it).
  const beat = setInterval(() => {
    const done = session
      ? session.query('UPDATE stripe_credits_lock SET heartbeat_at = $1 WHERE name = $2 AND token = $3', [
          at(),
          'reconcile',
          token,
        ])
      : db
          .updateTable('stripe_credits_lock')
          .set({ heartbeat_at: at() })
          .where('name', '=', 'reconcile')
          .where('token', '=', token)
          .execute();
    done.catch(() => {}); // a missed beat only makes the lock look older
  }, opts.heartbeatMs);
  beat.unref();

  let released = false;
  return {
    async assertHeld() {
      if (session) {
        // Any query on a session that ended fails; the advisory lock is the session's.
        await session.query('SELECT 1').catch((e: unknown) => {
          throw new LockLostError(`its database session ended: ${(e as Error).message}`);
        });
        return;
      }
      const current = await db
        .selectFrom('stripe_credits_lock')
        .select(['token', 'holder', 'pid', 'host', 'acquired_at'])
        .where('name', '=', 'reconcile')
        .executeTakeFirst();
      if (current?.token !== token)
        throw new LockLostError(current ? `taken over as stale: ${holderOf(current)}` : 'its row is gone');
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      try {
        // A lock session that has ended holds nothing: its row is then removed from the pool's side.
        const registered = session
          ? await releaseRegistered(session, key, token).then(
              () => true,
              () => false,
            )
          : false;
        if (!registered)
          await db
            .deleteFrom('stripe_credits_lock')
            .where('name', '=', 'reconcile')
            .where('token', '=', token)
            .execute();
      } finally {
        // Ending the session releases the advisory lock, whatever became of the row.
        await session?.close().catch(() => {});
      }
    },
  };
}

/**
 * Postgres: the row goes and the advisory lock is let go under the registration lock, as they came,
 * so that a refused run never finds the lock held and its holder's row already gone.
 */
async function releaseRegistered(session: SqlSession, key: string, token: string): Promise<void> {
  await session.query('BEGIN');
  await session.query('SELECT pg_advisory_xact_lock($1::bigint)', [registrationKey(key)]);
  await session.query("DELETE FROM stripe_credits_lock WHERE name = 'reconcile' AND token = $1", [token]);
  await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
  await session.query('COMMIT');
}

/** The cursor: every payment up to this time (unix seconds) has been seen by a finished run. */
export async function readCursor(db: Kysely<Database>): Promise<number | null> {
  try {
    const row = await db
      .selectFrom('stripe_credits_state')
      .select('value')
      .where('key', '=', 'cursor')
      .executeTakeFirst();
    return row ? Number(row.value) : null;
  } catch (e) {
    // A ledger created before the state table existed (an apply run migrates it; a dry run never does).
    if (isMissingTable(e)) return null;
    throw e;
  }
}

/**
 * Moves the cursor after a finished apply run: only a run whose window starts at or before the
 * cursor (or when there is none) may move it, and only forward. A run that leaves a gap does not.
 */
export async function advanceCursor(
  db: Kysely<Database>,
  window: { since: number; until: number },
  now: number,
): Promise<boolean> {
  const current = await readCursor(db);
  // Never past now: events created after now have not been read.
  const to = Math.min(window.until, now);
  if (current !== null && (window.since > current || to <= current)) return false;
  const at = new Date().toISOString();
  await db
    .insertInto('stripe_credits_state')
    .values({ key: 'cursor', value: String(to), updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(to), updated_at: at }))
    .execute();
  return true;
}
