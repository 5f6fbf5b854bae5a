import type { Kysely } from 'kysely';

/**
 * On the local record of a payment left pending or in review: what Stripe said of it (the Payment
 * the core decides from, as JSON), so that an incremental run decides it again without a request;
 * what Stripe changes later arrives as events. NULL once it is credited or skipped, and on records
 * written before this migration (those are re-read by id once).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('stripe_credits_payments').addColumn('snapshot', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('stripe_credits_payments').dropColumn('snapshot').execute();
}
