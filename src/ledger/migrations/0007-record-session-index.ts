import { sql, type Kysely } from 'kysely';

/**
 * The local record's Checkout Session index held every payment, at a random place (Stripe ids are
 * random), so writing many payments spent much of its time rewriting its pages. A payment
 * credited (now or before) is found by its payment key, which every query by session id also
 * asks for (from Stripe, or sessionKeys in corrections.ts). So this index now holds only the payments
 * no credit stands for (pending, in review, skipped), which support staff may have only a session
 * id of. Both engines take partial indexes with the same syntax.
 */
export const SESSION_NOT_CREDITED =
  "checkout_session_id IS NOT NULL AND status NOT IN ('credited', 'already_credited')";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('stripe_credits_payments_checkout_session_id').execute();
  await sql`CREATE INDEX stripe_credits_payments_checkout_session_id ON stripe_credits_payments (checkout_session_id) WHERE ${sql.raw(SESSION_NOT_CREDITED)}`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('stripe_credits_payments_checkout_session_id').execute();
  await db.schema
    .createIndex('stripe_credits_payments_checkout_session_id')
    .on('stripe_credits_payments')
    .column('checkout_session_id')
    .execute();
}
