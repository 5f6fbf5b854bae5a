import type { Kysely } from 'kysely';

/**
 * Payments recorded as already handled by `baseline` (credited by means the tool cannot see):
 * reconcile treats them as already credited and never credits them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_credits_baseline')
    .addColumn('payment_key', 'text', (c) => c.primaryKey())
    .addColumn('checkout_session_id', 'text')
    .addColumn('payment_intent_id', 'text')
    .addColumn('paid_at', 'text', (c) => c.notNull())
    .addColumn('baselined_at', 'text', (c) => c.notNull())
    .addColumn('until', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('stripe_credits_baseline_checkout_session_id')
    .on('stripe_credits_baseline')
    .column('checkout_session_id')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_credits_baseline').execute();
}
