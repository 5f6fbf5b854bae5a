import { sql, type Kysely } from 'kysely';

/**
 * The local record's Checkout Session index held every payment, at a random place (Stripe ids are
 * random): writing 200,000 payments spent a quarter of its time rewriting its pages. A payment the
 * tool credited is found by its session id through credit_ledger, whose purchase entry carries the
 * same session id (written from the same decision, in the same transaction) and whose session
 * index stays whole: it is the ledger's. So this index now holds only the payments no purchase
 * entry of the tool's stands for (pending, in review, skipped, credited by others);
 * paymentRecordFor finds the others through the ledger. Both engines take partial indexes with the
 * same syntax.
 */
export const SESSION_NOT_CREDITED = "checkout_session_id IS NOT NULL AND status NOT IN ('credited', 'already_credited')";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('stripe_credits_payments_checkout_session_id').execute();
  await sql`CREATE INDEX stripe_credits_payments_checkout_session_id ON stripe_credits_payments (checkout_session_id) WHERE ${sql.raw(SESSION_NOT_CREDITED)}`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('stripe_credits_payments_checkout_session_id').execute();
  await db.schema.createIndex('stripe_credits_payments_checkout_session_id').on('stripe_credits_payments').column('checkout_session_id').execute();
}
