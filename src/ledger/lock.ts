import type { Kysely } from 'kysely';
import { engineFor, type OpenDb } from './engine.js';
import { DEFAULT_LOCK, LockClaim, type HeldLock, type LockOptions } from './run-lock.js';
import type { Database } from './schema.js';

export { LockLostError, type HeldLock, type LockOptions } from './run-lock.js';
export { runLockKey } from './engines/postgres-lock.js';

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
export function acquireRunLock(open: OpenDb, holder: string, opts: LockOptions = DEFAULT_LOCK): Promise<HeldLock> {
  return open.engine.acquireRunLock(open, new LockClaim(holder, opts.now ?? Date.now), opts);
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
    if (engineFor(db).isMissingTable(e)) return null;
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
