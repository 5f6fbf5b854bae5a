import type { Kysely } from 'kysely';

/**
 * The review queue also holds refunds and disputes of credited payments that wait for a person
 * (the `review` reversal policy), keyed by the refund or dispute id. What such an entry needs
 * besides a payment's columns: which it is (`source`: `refund` or `dispute`; NULL on a payment's
 * entry, so the payment queries leave these out), the payment it takes from (`reversal_of`, its
 * payment key), and the user and credits at stake (`user_id`, `credits`, negative).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('stripe_credits_review').addColumn('source', 'text').execute();
  await db.schema.alterTable('stripe_credits_review').addColumn('reversal_of', 'text').execute();
  await db.schema.alterTable('stripe_credits_review').addColumn('user_id', 'text').execute();
  await db.schema.alterTable('stripe_credits_review').addColumn('credits', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const c of ['credits', 'user_id', 'reversal_of', 'source'])
    await db.schema.alterTable('stripe_credits_review').dropColumn(c).execute();
}
