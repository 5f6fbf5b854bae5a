import type { Kysely } from 'kysely';

/**
 * A local record of every payment the tool has decided. Stripe cannot list sessions by
 * client_reference_id or metadata, so `lookup` answers "which payments does user 42 have?" from here,
 * combined with the live queries Stripe does support.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_credits_payments')
    .addColumn('payment_key', 'text', (c) => c.primaryKey())
    .addColumn('checkout_session_id', 'text')
    .addColumn('payment_intent_id', 'text')
    .addColumn('customer_id', 'text')
    .addColumn('emails', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('matched_by', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('credits', 'integer')
    .addColumn('amount', 'integer')
    .addColumn('currency', 'text')
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('paid_at', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_run_id', 'integer')
    .execute();
  for (const col of ['user_id', 'customer_id', 'checkout_session_id', 'payment_intent_id', 'status']) {
    await db.schema.createIndex(`stripe_credits_payments_${col}`).on('stripe_credits_payments').column(col).execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_credits_payments').execute();
}
