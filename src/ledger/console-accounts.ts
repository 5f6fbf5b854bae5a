import type { Kysely, Selectable } from 'kysely';
import type { ConsoleSessionsTable, ConsoleUsersTable, Database } from './schema.js';

/** The console's accounts and sessions (migration 0013): plain queries; the rules are in src/app/console-accounts.ts. */

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
 * Counts one wrong password in the database, so that every console process sees it; locks the
 * account until `lockUntil` when the count reaches `limit`. Returns the count after this one.
 */
export async function recordFailedLogin(
  db: Kysely<Database>,
  name: string,
  limit: number,
  lockUntil: string,
): Promise<number> {
  await db
    .updateTable('stripe_credits_console_users')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('name', '=', name)
    .execute();
  const row = await consoleUser(db, name);
  const n = Number(row?.failed_attempts ?? 0);
  if (n >= limit) {
    await db
      .updateTable('stripe_credits_console_users')
      .set({ locked_until: lockUntil, failed_attempts: 0 })
      .where('name', '=', name)
      .execute();
  }
  return n;
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
