import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { CliError } from '../errors.js';
import type { Database } from './schema.js';

/**
 * What both engines' run locks share (engines/sqlite-lock.ts, engines/postgres-lock.ts): the
 * errors, the options, the lock's row and who is asking. lock.ts is the entry point.
 */

/** Another apply run holds the lock: exit 75 (EX_TEMPFAIL), try again later. */
export class LockHeldError extends CliError {
  constructor(message: string) {
    super(message, 75, 'another reconcile is writing to this ledger; cron will try again on its next tick');
  }
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

/** The lock's row in `stripe_credits_lock`, as read back. */
export interface LockRow {
  holder: string;
  pid: number | string;
  host: string;
  acquired_at: string;
}

/** Who holds the lock, from its row: holder (pid on host) since when. */
export function holderOf(row: LockRow): string {
  return `${row.holder} (pid ${row.pid} on ${row.host}) since ${row.acquired_at}`;
}

export function heldBy(row: LockRow): string {
  return `another run holds the lock: ${holderOf(row)}`;
}

/** This run asking for the lock: who it is, and the token that tells its row from any other's. */
export class LockClaim {
  readonly name = 'reconcile';
  readonly token = randomBytes(12).toString('hex');
  readonly host = hostname();
  readonly pid = process.pid;

  constructor(
    readonly holder: string,
    readonly now: () => number,
  ) {}

  /** The current time as the lock's rows keep it. */
  at(): string {
    return new Date(this.now()).toISOString();
  }

  /** The row that says this run holds the lock, as of now. */
  row() {
    const at = this.at();
    const { name, token, holder, host, pid } = this;
    return { name, token, holder, host, pid, acquired_at: at, heartbeat_at: at };
  }
}

/** Beats every `ms` until stopped (a missed beat only makes the lock look older). */
export function heartbeat(ms: number, beat: () => Promise<unknown>): () => void {
  const timer = setInterval(() => {
    beat().catch(() => {});
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/** Removes this run's row, and only this run's (a run that took the lock over keeps its own). */
export async function deleteOwnRow(db: Kysely<Database>, claim: LockClaim): Promise<void> {
  await db.deleteFrom('stripe_credits_lock').where('name', '=', claim.name).where('token', '=', claim.token).execute();
}
