import type { Kysely } from 'kysely';

/**
 * On the ledger entry that credits a payment: how the chain matched it to its user
 * (client_reference_id, metadata, customer, email) and the Stripe customer it was paid as. The
 * entry is the record of a credited payment, and the local record (`stripe_credits_payments`)
 * keeps only what the ledger cannot, the payments not credited (see recordDecisions); `lookup
 * USER` learns the customers a user paid as from both, to ask Stripe for their other payments.
 * Entries written before this migration have NULL here; their payments' records, written then,
 * still say it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credit_ledger').addColumn('matched_by', 'text').execute();
  await db.schema.alterTable('credit_ledger').addColumn('customer_id', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credit_ledger').dropColumn('customer_id').execute();
  await db.schema.alterTable('credit_ledger').dropColumn('matched_by').execute();
}
