import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import {
  deleteOwnRow,
  heartbeat,
  heldBy,
  holderOf,
  LockHeldError,
  LockLostError,
  type HeldLock,
  type LockClaim,
  type LockOptions,
} from '../run-lock.js';

/**
 * The SQLite run lock: a row in `stripe_credits_lock`, taken inside an immediate transaction so
 * that two processes cannot both see it free. A row left by a process that died is taken over: on
 * the same host when that pid is gone, elsewhere once its heartbeat is older than `staleAfterMs`.
 */
export async function acquireSqliteRunLock(
  db: Kysely<Database>,
  claim: LockClaim,
  opts: LockOptions,
): Promise<HeldLock> {
  await takeRow(db, claim, opts);
  return new SqliteRunLock(db, claim, opts.heartbeatMs);
}

const BUSY = 'another process is writing to this database (it stayed locked for 10 s)';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes this run's row unless a live holder's row is there; the check and the write in one immediate transaction. */
async function takeRow(db: Kysely<Database>, claim: LockClaim, opts: LockOptions): Promise<void> {
  await sql`BEGIN IMMEDIATE`.execute(db).catch((e: { code?: string }) => {
    if (e.code === 'SQLITE_BUSY') throw new LockHeldError(BUSY);
    throw e;
  });
  try {
    const current = await db
      .selectFrom('stripe_credits_lock')
      .selectAll()
      .where('name', '=', claim.name)
      .executeTakeFirst();
    if (current) {
      const heartbeatAge = claim.now() - Date.parse(current.heartbeat_at);
      const deadHere = current.host === claim.host && !processAlive(Number(current.pid));
      if (!deadHere && heartbeatAge < opts.staleAfterMs) throw new LockHeldError(heldBy(current));
      await db.deleteFrom('stripe_credits_lock').where('name', '=', claim.name).execute();
    }
    await db.insertInto('stripe_credits_lock').values(claim.row()).execute();
    await sql`COMMIT`.execute(db);
  } catch (e) {
    await sql`ROLLBACK`.execute(db).catch(() => {});
    // Still busy after busy_timeout: another process holds a write transaction, i.e. is writing.
    if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new LockHeldError(BUSY);
    throw e;
  }
}

/** A held SQLite run lock: its row, kept fresh by a heartbeat, is this run's while its token is there. */
class SqliteRunLock implements HeldLock {
  private readonly stopBeat: () => void;
  private released = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly claim: LockClaim,
    heartbeatMs: number,
  ) {
    this.stopBeat = heartbeat(heartbeatMs, () =>
      db
        .updateTable('stripe_credits_lock')
        .set({ heartbeat_at: claim.at() })
        .where('name', '=', claim.name)
        .where('token', '=', claim.token)
        .execute(),
    );
  }

  async assertHeld(): Promise<void> {
    const current = await this.db
      .selectFrom('stripe_credits_lock')
      .select(['token', 'holder', 'pid', 'host', 'acquired_at'])
      .where('name', '=', this.claim.name)
      .executeTakeFirst();
    if (current?.token !== this.claim.token)
      throw new LockLostError(current ? `taken over as stale: ${holderOf(current)}` : 'its row is gone');
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopBeat();
    await deleteOwnRow(this.db, this.claim);
  }
}
