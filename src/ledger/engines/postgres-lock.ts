import { createHash } from 'node:crypto';
import type { OpenDb, SqlSession } from './types.js';
import {
  deleteOwnRow,
  heartbeat,
  heldBy,
  LockHeldError,
  LockLostError,
  type HeldLock,
  type LockClaim,
  type LockOptions,
  type LockRow,
} from '../run-lock.js';

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

/**
 * The Postgres run lock: `pg_try_advisory_lock` on a session of its own, held for the whole run.
 * The server releases it when that session ends, however the process ends, so it is never left
 * behind. The row in `stripe_credits_lock` only says who holds it; the advisory lock decides.
 */
export async function acquirePostgresRunLock(open: OpenDb, claim: LockClaim, opts: LockOptions): Promise<HeldLock> {
  if (!open.session) throw new Error('a Postgres database opened without its sessions');
  const session = await open.session();
  let key: string;
  try {
    key = await register(session, claim);
  } catch (e) {
    // Ending the session rolls back what is open and releases the advisory lock if it was taken.
    await session.close().catch(() => {});
    throw e;
  }
  return new PostgresRunLock(open, session, key, claim, opts.heartbeatMs);
}

/**
 * Takes the advisory lock and records the holder, under a second, transaction-scoped lock (held for
 * microseconds) which a refused run takes too before it reads the row: so the row it reads is
 * always the current holder's, never one not written yet or left by a dead run. Returns the key.
 */
async function register(session: SqlSession, claim: LockClaim): Promise<string> {
  const [s] = await session.query<{ schema: string }>('SELECT current_schema() AS schema');
  const key = runLockKey(s!.schema);
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
  const r = claim.row();
  await session.query("DELETE FROM stripe_credits_lock WHERE name = 'reconcile'");
  await session.query(
    'INSERT INTO stripe_credits_lock (name, token, holder, host, pid, acquired_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [r.name, r.token, r.holder, r.host, r.pid, r.acquired_at, r.heartbeat_at],
  );
  await session.query('COMMIT');
  return key;
}

/** A held Postgres run lock: the lock's session, which holds the advisory lock. */
class PostgresRunLock implements HeldLock {
  private readonly stopBeat: () => void;
  private released = false;

  constructor(
    private readonly open: OpenDb,
    private readonly session: SqlSession,
    private readonly key: string,
    private readonly claim: LockClaim,
    heartbeatMs: number,
  ) {
    // The beat goes through the lock's own session, so that it is never idle for long (a server's
    // idle_session_timeout would end it, and the lock with it).
    this.stopBeat = heartbeat(heartbeatMs, () =>
      session.query('UPDATE stripe_credits_lock SET heartbeat_at = $1 WHERE name = $2 AND token = $3', [
        claim.at(),
        claim.name,
        claim.token,
      ]),
    );
  }

  async assertHeld(): Promise<void> {
    // Any query on a session that ended fails; the advisory lock is the session's.
    await this.session.query('SELECT 1').catch((e: unknown) => {
      throw new LockLostError(`its database session ended: ${(e as Error).message}`);
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopBeat();
    try {
      // A lock session that has ended holds nothing: its row is then removed from the pool's side.
      const registered = await this.unregister().then(
        () => true,
        () => false,
      );
      if (!registered) await deleteOwnRow(this.open.db, this.claim);
    } finally {
      // Ending the session releases the advisory lock, whatever became of the row.
      await this.session.close().catch(() => {});
    }
  }

  /**
   * The row goes and the advisory lock is let go under the registration lock, as they came, so
   * that a refused run never finds the lock held and its holder's row already gone.
   */
  private async unregister(): Promise<void> {
    const { session, key } = this;
    await session.query('BEGIN');
    await session.query('SELECT pg_advisory_xact_lock($1::bigint)', [registrationKey(key)]);
    await session.query("DELETE FROM stripe_credits_lock WHERE name = 'reconcile' AND token = $1", [this.claim.token]);
    await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    await session.query('COMMIT');
  }
}
