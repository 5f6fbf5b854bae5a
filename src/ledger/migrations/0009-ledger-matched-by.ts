import type { Kysely } from 'kysely';

/**
 * How the chain matched a payment to its user (client_reference_id, metadata, customer, email,
 * assign), on the ledger entry that credits it: the entry is the record of a credited payment, and
 * the local record (`stripe_credits_payments`) keeps only what the ledger cannot, the payments not
 * credited (see recordDecisions). Entries written before this migration have NULL here; their
 * payments' records, written then, still say it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credit_ledger').addColumn('matched_by', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credit_ledger').dropColumn('matched_by').execute();
}
