import type { Kysely } from 'kysely';

/**
 * The support console's accounts and sessions (`stripe-credits console user add`, `serve`). A
 * password is kept only as a scrypt hash; a session only as the SHA-256 of its cookie, so that a
 * copy of the database opens no session. `failed_attempts` and `locked_until` lock an account after
 * repeated wrong passwords, whichever process of the console saw them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_credits_console_users')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'text')
    .execute();
  await db.schema
    .createTable('stripe_credits_console_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stripe_credits_console_sessions_user')
    .on('stripe_credits_console_sessions')
    .column('user_name')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_credits_console_sessions').execute();
  await db.schema.dropTable('stripe_credits_console_users').execute();
}
