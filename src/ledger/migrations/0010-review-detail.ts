import type { Kysely } from 'kysely';

/**
 * On a review entry: what made its reason so, for the person who reads the queue (invalid_credits:
 * the credits metadata value, or the credits over maxCreditsPerPayment). NULL for the reasons that
 * need no more than the entry's other columns, and on entries queued before this migration.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('stripe_credits_review').addColumn('detail', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('stripe_credits_review').dropColumn('detail').execute();
}
