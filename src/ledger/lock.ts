import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { CliError } from '../errors.js';
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
  release(): Promise<void>;
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
 * Takes the run lock, a row in `stripe_credits_lock`, inside an immediate transaction so that two
 * processes cannot both see it free. A lock left by a process that died is not honoured: on the
 * same host when that pid is gone, elsewhere once its heartbeat is older than `staleAfterMs`.
 * The lock only keeps runs from doing the same work twice: exactly-once rests on the unique
 * constraint, so `assign` and the library never take it.
 */
export async function acquireRunLock(db: Kysely<Database>, holder: string, opts: LockOptions = DEFAULT_LOCK): Promise<HeldLock> {
  const now = opts.now ?? Date.now;
  const token = randomBytes(12).toString('hex');
  const host = hostname();
  const at = () => new Date(now()).toISOString();

  await sql`BEGIN IMMEDIATE`.execute(db);
  try {
    const current = await db.selectFrom('stripe_credits_lock').selectAll().where('name', '=', 'reconcile').executeTakeFirst();
    if (current) {
      const heartbeatAge = now() - Date.parse(current.heartbeat_at);
      const deadHere = current.host === host && !processAlive(Number(current.pid));
      if (!deadHere && heartbeatAge < opts.staleAfterMs) {
        throw new LockHeldError(
          `another run holds the lock: ${current.holder} (pid ${current.pid} on ${current.host}) since ${current.acquired_at}`,
        );
      }
      await db.deleteFrom('stripe_credits_lock').where('name', '=', 'reconcile').execute();
    }
    await db
      .insertInto('stripe_credits_lock')
      .values({ name: 'reconcile', token, holder, host, pid: process.pid, acquired_at: at(), heartbeat_at: at() })
      .execute();
    await sql`COMMIT`.execute(db);
  } catch (e) {
    await sql`ROLLBACK`.execute(db).catch(() => {});
    throw e;
  }

  const beat = setInterval(() => {
    db.updateTable('stripe_credits_lock')
      .set({ heartbeat_at: at() })
      .where('name', '=', 'reconcile')
      .where('token', '=', token)
      .execute()
      .catch(() => {}); // a missed beat only makes the lock look older
  }, opts.heartbeatMs);
  beat.unref();

  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      await db.deleteFrom('stripe_credits_lock').where('name', '=', 'reconcile').where('token', '=', token).execute();
    },
  };
}

/** The cursor: every payment up to this time (unix seconds) has been seen by a finished run. */
export async function readCursor(db: Kysely<Database>): Promise<number | null> {
  const row = await db.selectFrom('stripe_credits_state').select('value').where('key', '=', 'cursor').executeTakeFirst();
  return row ? Number(row.value) : null;
}

/**
 * Moves the cursor after a finished apply run: only a run whose window starts at or before the
 * cursor (or when there is none) may move it, and only forward. A run that leaves a gap does not.
 */
export async function advanceCursor(db: Kysely<Database>, window: { since: number; until: number }): Promise<boolean> {
  const current = await readCursor(db);
  if (current !== null && (window.since > current || window.until <= current)) return false;
  const at = new Date().toISOString();
  await db
    .insertInto('stripe_credits_state')
    .values({ key: 'cursor', value: String(window.until), updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(window.until), updated_at: at }))
    .execute();
  return true;
}
