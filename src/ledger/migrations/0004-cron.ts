import type { Kysely } from 'kysely';

/**
 * What unattended runs need: a lock (one writer at a time), a little state (the cursor up to
 * which every payment has been seen), and per-run detail for `stripe-credits runs`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_credits_lock')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('token', 'text', (c) => c.notNull())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('acquired_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('stripe_credits_state')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('stripe_credits_runs').addColumn('source', 'text').execute();
  await db.schema.alterTable('stripe_credits_runs').addColumn('requests', 'integer').execute();
  await db.schema.alterTable('stripe_credits_runs').addColumn('notes', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_credits_state').execute();
  await db.schema.dropTable('stripe_credits_lock').execute();
}
