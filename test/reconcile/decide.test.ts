import { describe, expect, it } from 'vitest';
import { decidePayment } from '../../src/reconcile/decide.js';
import type { Payment, PaymentDecision } from '../../src/reconcile/types.js';
import { T0, checkout, context, standalone, type ContextOverrides, type TestUser } from './builders.js';

const USERS: TestUser[] = [
  { id: '1', email: 'alice@example.com', stripeCustomerId: 'cus_alice' },
  { id: '2', email: 'bob@example.com', stripeCustomerId: 'cus_bob' },
  { id: '3', email: 'shared@example.com', stripeCustomerId: 'cus_shared' },
  { id: '4', email: 'shared@example.com', stripeCustomerId: 'cus_shared' },
];
/** Users, a customer column and an amount rule: a plain paid session for user 1 is credited. */
const BASE: ContextOverrides = {
  users: USERS,
  customerColumn: true,
  credits: { unitAmountPerCredit: { usd: 10 } },
};

function decide(p: Payment, o: ContextOverrides = {}): PaymentDecision {
  return decidePayment(p, context({ ...BASE, ...o }));
}

const good = { clientReferenceId: '1' };
/** The amount rule of BASE plus a floor of 5 cents per credit in usd. */
const FLOOR = { unitAmountPerCredit: { usd: 10 }, minAmountPerCredit: { usd: 5 } };

describe('one status per payment, in order', () => {
  it.each<[string, Payment, ContextOverrides, Pick<PaymentDecision, 'status' | 'reason'>]>([
    // 1. already credited beats everything
    ['credited payment', checkout(good), { credited: ['pi_1'] }, { status: 'already_credited', reason: null }],
    ['credited by session id', checkout(good), { credited: ['cs_1'] }, { status: 'already_credited', reason: null }],
    [
      'credited subscription',
      checkout({ ...good, mode: 'subscription' }, null),
      { credited: ['cs_1'] },
      { status: 'already_credited', reason: null },
    ],
    [
      'credited invoice payment',
      standalone({}, true),
      { credited: ['pi_1'] },
      { status: 'already_credited', reason: null },
    ],
    [
      'credited pending session',
      checkout({ ...good, paymentStatus: 'unpaid' }, { status: 'processing' }),
      { credited: ['pi_1'] },
      { status: 'already_credited', reason: null },
    ],
    [
      'credited refunded',
      checkout(good, { refunded: true }),
      { credited: ['pi_1'] },
      { status: 'already_credited', reason: null },
    ],
    ['credited, no user', checkout({}), { credited: ['pi_1'] }, { status: 'already_credited', reason: null }],
    [
      'credited, no credit rule',
      checkout(good),
      { credited: ['pi_1'], credits: {} },
      { status: 'already_credited', reason: null },
    ],
    [
      'credited, dry run',
      checkout(good),
      { credited: ['pi_1'], dryRun: true },
      { status: 'already_credited', reason: null },
    ],
    // 2. not a credit purchase
    [
      'subscription',
      checkout({ ...good, mode: 'subscription' }, null),
      {},
      { status: 'skipped', reason: 'subscription' },
    ],
    [
      'setup',
      checkout({ ...good, mode: 'setup', paymentStatus: 'no_payment_required' }, null),
      {},
      { status: 'skipped', reason: 'setup' },
    ],
    [
      'subscription, unpaid',
      checkout({ mode: 'subscription', paymentStatus: 'unpaid' }, null),
      {},
      { status: 'skipped', reason: 'subscription' },
    ],
    ['invoice', standalone({ metadata: { user_id: '1' } }, true), {}, { status: 'skipped', reason: 'invoice' }],
    ['invoice, refunded, no user', standalone({ refunded: true }, true), {}, { status: 'skipped', reason: 'invoice' }],
    // 3. not settled
    [
      'unpaid, PI processing',
      checkout({ ...good, paymentStatus: 'unpaid' }, { status: 'processing' }),
      {},
      { status: 'pending', reason: null },
    ],
    [
      'pending beats refunded, no user and bad credits',
      checkout({ paymentStatus: 'unpaid', metadata: { credits: 'abc' } }, { status: 'processing', refunded: true }),
      {},
      { status: 'pending', reason: null },
    ],
    // 4. fully refunded
    ['refunded', checkout(good, { refunded: true }), {}, { status: 'skipped', reason: 'refunded' }],
    [
      'refunded standalone',
      standalone({ metadata: { user_id: '1' }, refunded: true }),
      {},
      { status: 'skipped', reason: 'refunded' },
    ],
    ['refunded beats no user', checkout({}, { refunded: true }), {}, { status: 'skipped', reason: 'refunded' }],
    [
      'partially refunded is credited',
      checkout(good, { amountRefunded: 500 }),
      {},
      { status: 'credited', reason: null },
    ],
    // 5. no single user (before credit reasons)
    ['no user', checkout({}), {}, { status: 'needs_review', reason: 'no_user' }],
    [
      'no user beats invalid credits',
      checkout({ metadata: { credits: 'abc' } }),
      {},
      { status: 'needs_review', reason: 'no_user' },
    ],
    ['no user beats no credit rule', checkout({}), { credits: {} }, { status: 'needs_review', reason: 'no_user' }],
    ['no user beats zero credits', checkout({ amountTotal: 5 }), {}, { status: 'needs_review', reason: 'no_user' }],
    [
      'conflicting ids beat invalid credits',
      checkout({ clientReferenceId: '1', metadata: { user_id: '2', credits: '-5' } }),
      {},
      { status: 'needs_review', reason: 'conflicting_ids' },
    ],
    [
      'ambiguous customer',
      checkout({ customerId: 'cus_shared' }),
      {},
      { status: 'needs_review', reason: 'ambiguous_customer' },
    ],
    [
      'ambiguous email',
      checkout({ customerEmail: 'shared@example.com' }),
      {},
      { status: 'needs_review', reason: 'ambiguous_email' },
    ],
    [
      'conflicting emails',
      checkout({ customerEmail: 'alice@example.com' }, { receiptEmail: 'bob@example.com' }),
      {},
      { status: 'needs_review', reason: 'conflicting_emails' },
    ],
    // 6. no valid credit amount
    [
      'invalid credits',
      checkout({ ...good, metadata: { credits: '1.5' } }),
      {},
      { status: 'needs_review', reason: 'invalid_credits' },
    ],
    [
      'over the cap',
      checkout(good),
      { maxCreditsPerPayment: 99 },
      { status: 'needs_review', reason: 'invalid_credits' },
    ],
    ['no credit rule', checkout(good), { credits: {} }, { status: 'needs_review', reason: 'no_credit_rule' }],
    [
      'invalid credits beats zero amount',
      checkout({ ...good, amountTotal: 0, metadata: { credits: '0' } }),
      {},
      { status: 'needs_review', reason: 'invalid_credits' },
    ],
    // 6. credits.minAmountPerCredit: paid less than the credits cost
    [
      '1 cent for 5000 credits',
      standalone({ amountReceived: 1, metadata: { user_id: '1', credits: '5000' } }),
      { credits: FLOOR },
      { status: 'needs_review', reason: 'amount_too_low' },
    ],
    [
      '100% coupon with credits metadata',
      checkout({ ...good, amountTotal: 0, paymentStatus: 'no_payment_required', metadata: { credits: '1000' } }, null),
      { credits: FLOOR },
      { status: 'needs_review', reason: 'amount_too_low' },
    ],
    [
      'too low under the price map',
      checkout({ ...good, amountTotal: 100, lineItems: [{ priceId: 'price_pack', quantity: 2 }] }),
      { credits: { ...FLOOR, prices: { price_pack: 1000 } } },
      { status: 'needs_review', reason: 'amount_too_low' },
    ],
    [
      'too low in a dry run',
      checkout({ ...good, amountTotal: 1, metadata: { credits: '10' } }),
      { credits: FLOOR, dryRun: true },
      { status: 'needs_review', reason: 'amount_too_low' },
    ],
    [
      'no user beats amount too low',
      checkout({ amountTotal: 1, metadata: { credits: '5000' } }),
      { credits: FLOOR },
      { status: 'needs_review', reason: 'no_user' },
    ],
    [
      'over the cap beats amount too low',
      checkout({ ...good, amountTotal: 1, metadata: { credits: '5000' } }),
      { credits: FLOOR, maxCreditsPerPayment: 4999 },
      { status: 'needs_review', reason: 'invalid_credits' },
    ],
    [
      'refunded beats amount too low',
      checkout({ ...good, amountTotal: 1, metadata: { credits: '5000' } }, { refunded: true }),
      { credits: FLOOR },
      { status: 'skipped', reason: 'refunded' },
    ],
    [
      'enough paid at the floor',
      checkout({ ...good, amountTotal: 500, metadata: { credits: '100' } }),
      { credits: FLOOR },
      { status: 'credited', reason: null },
    ],
    [
      'a currency absent from the floor',
      checkout({ ...good, amountTotal: 1, currency: 'eur', metadata: { credits: '5000' } }),
      { credits: FLOOR },
      { status: 'credited', reason: null },
    ],
    [
      'the amount rule under a floor',
      checkout({ ...good, amountTotal: 1000 }),
      { credits: FLOOR },
      { status: 'credited', reason: null },
    ],
    [
      'a tiny amount under a floor is still no_credits',
      checkout({ ...good, amountTotal: 9 }),
      { credits: FLOOR },
      { status: 'skipped', reason: 'no_credits' },
    ],
    // 7. zero credits
    ['tiny amount', checkout({ ...good, amountTotal: 9 }), {}, { status: 'skipped', reason: 'no_credits' }],
    [
      'free session under an amount rule',
      checkout({ ...good, amountTotal: 0, paymentStatus: 'no_payment_required' }, null),
      {},
      { status: 'skipped', reason: 'no_credits' },
    ],
    [
      'zero-quantity price line',
      checkout({ ...good, lineItems: [{ priceId: 'price_pack', quantity: 0 }] }),
      { credits: { prices: { price_pack: 100 } } },
      { status: 'skipped', reason: 'no_credits' },
    ],
    // 8. credit it
    ['credited', checkout(good), {}, { status: 'credited', reason: null }],
    ['would_credit in a dry run', checkout(good), { dryRun: true }, { status: 'would_credit', reason: null }],
    [
      'free session with metadata credits',
      checkout({ ...good, amountTotal: 0, paymentStatus: 'no_payment_required', metadata: { credits: '10' } }, null),
      {},
      { status: 'credited', reason: null },
    ],
  ])('%s', (_name, p, o, expected) => {
    expect(decide(p, o)).toMatchObject(expected);
  });
});

describe('the decision item', () => {
  it('a credited session carries the SPEC fields', () => {
    const p = checkout(
      {
        id: 'cs_a',
        clientReferenceId: '1',
        amountTotal: 1000,
        currency: 'usd',
        customerId: 'cus_a',
        livemode: true,
        customerName: 'Alice A.',
      },
      { id: 'pi_a', created: T0 + 5 },
    );
    expect(decide(p)).toEqual({
      paymentKey: 'pi_a',
      checkoutSession: 'cs_a',
      paymentIntent: 'pi_a',
      amount: 1000,
      currency: 'usd',
      userId: '1',
      matchedBy: 'client_reference_id',
      credits: 100,
      status: 'credited',
      reason: null,
      paidAt: T0 + 5,
      livemode: true,
      creditRule: 'unit_amount',
      unknownIds: [],
      candidateUserIds: [],
      emails: [],
      customerId: 'cus_a',
      name: 'Alice A.',
    });
  });

  it('a standalone PaymentIntent is keyed by itself, without a session', () => {
    const d = decide(
      standalone({ id: 'pi_s', metadata: { user_id: '2', credits: '25' }, amountReceived: 300, currency: 'eur' }),
    );
    expect(d).toMatchObject({
      paymentKey: 'pi_s',
      checkoutSession: null,
      paymentIntent: 'pi_s',
      amount: 300,
      currency: 'eur',
      userId: '2',
      matchedBy: 'metadata.user_id',
      credits: 25,
      creditRule: 'metadata',
      status: 'credited',
    });
  });

  it('a session without PaymentIntent is keyed by the session', () => {
    const d = decide(
      checkout({ id: 'cs_free', ...good, paymentStatus: 'no_payment_required', metadata: { credits: '5' } }, null),
    );
    expect(d).toMatchObject({
      paymentKey: 'cs_free',
      checkoutSession: 'cs_free',
      paymentIntent: null,
      credits: 5,
      status: 'credited',
    });
  });

  it.each<[string, Payment, ContextOverrides, string]>([
    ['client_reference_id', checkout({ clientReferenceId: '1' }), {}, 'client_reference_id'],
    ['metadata key', checkout({}, { metadata: { uid: '1' } }), { match: { userIdKeys: ['uid'] } }, 'metadata.uid'],
    ['customer', checkout({ customerId: 'cus_bob' }), {}, 'customer'],
    ['email', checkout({ customerDetailsEmail: 'Bob@Example.com' }), {}, 'email'],
  ])('matchedBy %s', (_name, p, o, matchedBy) => {
    expect(decide(p, o)).toMatchObject({ status: 'credited', matchedBy });
  });

  it('needs_review keeps unknown ids, candidates, emails and the name as hints', () => {
    const p = checkout({
      clientReferenceId: 'ghost',
      customerEmail: ' SHARED@example.com',
      customerName: 'Alice',
    });
    expect(decide(p)).toMatchObject({
      status: 'needs_review',
      reason: 'ambiguous_email',
      userId: null,
      matchedBy: null,
      credits: null,
      unknownIds: ['ghost'],
      candidateUserIds: ['3', '4'],
      emails: ['shared@example.com'],
      name: 'Alice',
    });
  });

  it('a credit-rule review still names the matched user', () => {
    expect(decide(checkout({ ...good, metadata: { credits: 'lots' } }))).toMatchObject({
      status: 'needs_review',
      reason: 'invalid_credits',
      userId: '1',
      matchedBy: 'client_reference_id',
      credits: null,
    });
  });

  it('no_credits keeps the rule and 0 credits', () => {
    expect(decide(checkout({ ...good, amountTotal: 3 }))).toMatchObject({
      status: 'skipped',
      reason: 'no_credits',
      credits: 0,
      creditRule: 'unit_amount',
      userId: '1',
    });
  });
});
