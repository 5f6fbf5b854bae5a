import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OpenDb } from '../../src/ledger/db.js';
import { writeTransaction } from '../../src/ledger/engine.js';
import { insertPurchases, OWN_LEDGER_ONLY, recordDecisions } from '../../src/ledger/ledger.js';
import type { PaymentDecision } from '../../src/reconcile/types.js';
import { openTempLedger } from '../helpers/ledger.js';

function decision(n: number, overrides: Partial<PaymentDecision> = {}): PaymentDecision {
  return {
    paymentKey: `pi_${n}`,
    checkoutSession: `cs_test_${n}`,
    paymentIntent: `pi_${n}`,
    amount: 100 * n,
    currency: 'usd',
    userId: String(n),
    matchedBy: 'client_reference_id',
    credits: n,
    status: 'credited',
    reason: null,
    paidAt: 1_790_000_000 + n,
    livemode: false,
    creditRule: 'metadata',
    unknownIds: [],
    candidateUserIds: [],
    emails: [`u${n}@example.com`],
    customerId: null,
    name: null,
    ...overrides,
  };
}

/**
 * The ledger's inserts reuse their SQL text for every batch of the same shape (insertRows): each
 * batch must still write its own values, and the conflict and upsert clauses must still apply. And
 * the record keeps only what the ledger cannot say (recordDecisions).
 */
describe('batched inserts, the SQL of a shape reused', () => {
  let open: OpenDb;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ open, close } = await openTempLedger());
  });
  afterEach(() => close());

  const write = (ds: PaymentDecision[]) =>
    writeTransaction(open.db, async (trx) => {
      const inserted = await insertPurchases(
        trx,
        ds.filter((d) => d.status === 'credited'),
        { runId: null, actor: 'test', reason: null, adoption: OWN_LEDGER_ONLY },
      );
      await recordDecisions(trx, ds, null);
      return [...inserted].sort();
    });

  it('writes each batch of the same size with its own values; a repeated payment conflicts', async () => {
    expect(await write([decision(1), decision(2)])).toEqual(['pi_1', 'pi_2']);
    expect(await write([decision(3), decision(4)])).toEqual(['pi_3', 'pi_4']);
    // Same shape again: pi_2 is credited already (not inserted), pi_5 is new.
    expect(await write([decision(2, { credits: 99 }), decision(5)])).toEqual(['pi_5']);
    const ledger = await open.db
      .selectFrom('credit_ledger')
      .select(['payment_key', 'user_id', 'credits', 'checkout_session_id', 'amount', 'matched_by'])
      .orderBy('payment_key')
      .execute();
    expect(
      ledger.map((r) => [
        r.payment_key,
        r.user_id,
        Number(r.credits),
        r.checkout_session_id,
        Number(r.amount),
        r.matched_by,
      ]),
    ).toEqual([1, 2, 3, 4, 5].map((n) => [`pi_${n}`, String(n), n, `cs_test_${n}`, 100 * n, 'client_reference_id']));
  });

  it('records what the ledger cannot say: payments not credited, and brings a record up to date when its payment is credited', async () => {
    const review = (n: number) =>
      decision(n, { status: 'needs_review', userId: null, matchedBy: null, credits: null, reason: 'no_user' });
    const pending = (n: number) => decision(n, { status: 'pending', userId: null, matchedBy: null, credits: null });
    await write([review(1), pending(2), decision(3)]);
    await write([review(4), pending(5), decision(6)]); // the same shapes again
    const records = async () =>
      (
        await open.db
          .selectFrom('stripe_credits_payments')
          .select(['payment_key', 'status', 'user_id', 'credits', 'matched_by'])
          .orderBy('payment_key')
          .execute()
      ).map((r) => [r.payment_key, r.status, r.user_id, r.credits === null ? null : Number(r.credits), r.matched_by]);
    // Credited payments (3, 6) are on record in the ledger only.
    expect(await records()).toEqual([
      ['pi_1', 'needs_review', null, null, null],
      ['pi_2', 'pending', null, null, null],
      ['pi_4', 'needs_review', null, null, null],
      ['pi_5', 'pending', null, null, null],
    ]);
    // pi_2 settles and is credited; pi_3 is found credited again: only pi_2's record changes.
    expect(
      await write([
        decision(2),
        decision(3, { status: 'already_credited', userId: null, matchedBy: null, credits: null }),
      ]),
    ).toEqual(['pi_2']);
    expect(await records()).toEqual([
      ['pi_1', 'needs_review', null, null, null],
      ['pi_2', 'credited', '2', 2, 'client_reference_id'],
      ['pi_4', 'needs_review', null, null, null],
      ['pi_5', 'pending', null, null, null],
    ]);
  });
});
