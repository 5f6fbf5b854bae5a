import { sql, type Kysely } from 'kysely';

/**
 * credit_ledger's Checkout Session index held every entry at a random place (Stripe ids are
 * random), so every write of a large plan rewrote pages of it all over the file.
 * The tool keys an entry by its payment's PaymentIntent id, or by its session id when the payment
 * has no PaymentIntent, and every query that finds entries by session id also asks for the
 * payment key (from Stripe, or see sessionKeys in corrections.ts): so this index needs to hold only the
 * entries whose payment key is neither their session id nor their PaymentIntent id (written by
 * hand or by other means), as 0006 did for the PaymentIntent id. Both engines take partial indexes
 * with the same syntax; queries spell the condition out (sessionNotKey) so that both use it.
 */
export const SESSION_NOT_KEY =
  'checkout_session_id IS NOT NULL AND (payment_key IS NULL OR (checkout_session_id <> payment_key AND (payment_intent_id IS NULL OR payment_intent_id <> payment_key)))';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('credit_ledger_checkout_session_id').execute();
  await sql`CREATE INDEX credit_ledger_checkout_session_id ON credit_ledger (checkout_session_id) WHERE ${sql.raw(SESSION_NOT_KEY)}`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('credit_ledger_checkout_session_id').execute();
  await db.schema
    .createIndex('credit_ledger_checkout_session_id')
    .on('credit_ledger')
    .column('checkout_session_id')
    .execute();
}
