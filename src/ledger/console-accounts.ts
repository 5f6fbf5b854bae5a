import { sql, type Kysely, type Selectable } from 'kysely';
import type { ConsoleSessionsTable, ConsoleUsersTable, Database } from './schema.js';

/** The console's accounts and sessions (migration 0014): plain queries; the rules are in src/app/console-accounts.ts. */

export type ConsoleUserRow = Selectable<ConsoleUsersTable>;
export type ConsoleSessionRow = Selectable<ConsoleSessionsTable>;

/** Inserts an account; false when the name is taken (the primary key decides, not a prior read). */
export async function insertConsoleUser(
  db: Kysely<Database>,
  row: { name: string; role: string; password_hash: string; created_at: string },
): Promise<boolean> {
  const r = await db
    .insertInto('stripe_credits_console_users')
    .values({ ...row, failed_attempts: 0, locked_until: null })
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export function consoleUsers(db: Kysely<Database>): Promise<ConsoleUserRow[]> {
  return db.selectFrom('stripe_credits_console_users').selectAll().orderBy('name').execute();
}

export async function consoleUser(db: Kysely<Database>, name: string): Promise<ConsoleUserRow | null> {
  return (
    (await db.selectFrom('stripe_credits_console_users').selectAll().where('name', '=', name).executeTakeFirst()) ??
    null
  );
}

/** Removes an account and its sessions; false when there was none. */
export async function deleteConsoleUser(db: Kysely<Database>, name: string): Promise<boolean> {
  await db.deleteFrom('stripe_credits_console_sessions').where('user_name', '=', name).execute();
  const r = await db.deleteFrom('stripe_credits_console_users').where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

/**
 * Claims one sign-in attempt before the password is checked, in one statement, so that concurrent
 * attempts cannot all read "not locked" and all be checked. The attempt that reaches `limit` locks
 * the account until `lockUntil` at once (its password is still checked: a right one lifts the lock).
 * Null when the account does not exist or is locked at `now`: then no password may be checked. A
 * lock that ran out starts a fresh count. Returns the account as it is after the claim.
 */
export async function claimLoginAttempt(
  db: Kysely<Database>,
  name: string,
  o: { limit: number; now: string; lockUntil: string },
): Promise<ConsoleUserRow | null> {
  const expired = sql<boolean>`(locked_until IS NOT NULL AND locked_until <= ${o.now})`;
  const count = sql<number>`(CASE WHEN ${expired} THEN 1 ELSE failed_attempts + 1 END)`;
  const row = await db
    .updateTable('stripe_credits_console_users')
    .set({
      failed_attempts: count,
      locked_until: sql<
        string | null
      >`CASE WHEN ${count} >= ${o.limit} THEN ${o.lockUntil} WHEN ${expired} THEN NULL ELSE locked_until END`,
    })
    .where('name', '=', name)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', o.now)]))
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

export async function clearFailedLogins(db: Kysely<Database>, name: string): Promise<void> {
  await db
    .updateTable('stripe_credits_console_users')
    .set({ failed_attempts: 0, locked_until: null })
    .where('name', '=', name)
    .execute();
}

export async function insertConsoleSession(db: Kysely<Database>, row: ConsoleSessionRow): Promise<void> {
  await db.insertInto('stripe_credits_console_sessions').values(row).execute();
}

/** The session with this hash and its account, if it has not expired at `now`. */
export async function liveConsoleSession(
  db: Kysely<Database>,
  idHash: string,
  now: string,
): Promise<{ session: ConsoleSessionRow; user: ConsoleUserRow } | null> {
  const session = await db
    .selectFrom('stripe_credits_console_sessions')
    .selectAll()
    .where('id_hash', '=', idHash)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!session) return null;
  const user = await consoleUser(db, session.user_name);
  return user ? { session, user } : null;
}

export async function deleteConsoleSession(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.deleteFrom('stripe_credits_console_sessions').where('id_hash', '=', idHash).execute();
}

/** Drops the sessions that expired before `now`, so the table does not grow with every sign-in. */
export async function deleteExpiredConsoleSessions(db: Kysely<Database>, now: string): Promise<void> {
  await db.deleteFrom('stripe_credits_console_sessions').where('expires_at', '<=', now).execute();
}
