import { describe, expect, it } from 'vitest';
import { paymentHolding, reassignKinds } from '../../src/ledger/corrections.js';
import type { LedgerRow } from '../../src/ledger/schema.js';
import { assignPlan, type AssignRefusal } from '../../src/reconcile/assign.js';
import { explainMatch } from '../../src/reconcile/explain-match.js';
import type { Payment } from '../../src/reconcile/types.js';
import { checkout, directory, matchConfig, rules, standalone, type TestUser } from './builders.js';

const USERS: TestUser[] = [
  { id: '1', email: 'alice@example.com', stripeCustomerId: 'cus_alice' },
  { id: '3', email: 'shared@example.com', stripeCustomerId: 'cus_shared' },
  { id: '4', email: 'shared@example.com', stripeCustomerId: 'cus_shared' },
];
const ALICE = { id: '1', email: 'alice@example.com' };
const AMOUNT_RULE = rules({ credits: { unitAmountPerCredit: { usd: 10 } } });

describe('assignPlan: what assign may credit', () => {
  it.each<[string, Payment, AssignRefusal]>([
    ['a subscription session', checkout({ mode: 'subscription' }, null), 'subscription'],
    [
      'a setup session',
      checkout({ mode: 'setup', paymentStatus: 'no_payment_required', amountTotal: null }, null),
      'setup',
    ],
    ['a PaymentIntent paying an invoice', standalone({ metadata: { credits: '5' } }, true), 'invoice'],
    [
      'a session whose PaymentIntent is still processing',
      checkout({ paymentStatus: 'unpaid' }, { status: 'processing' }),
      'pending',
    ],
    ['a fully refunded payment', checkout({}, { refunded: true, amountRefunded: 1000 }), 'refunded'],
  ])('refuses %s', (_name, payment, refusal) => {
    const plan = assignPlan(payment, ALICE, AMOUNT_RULE, null);
    expect(plan).toMatchObject({ ok: false, refusal });
    // --credits does not lift a refusal of the payment itself.
    expect(assignPlan(payment, ALICE, AMOUNT_RULE, 50)).toMatchObject({ ok: false, refusal });
  });

  it('refuses pending before refunded, in the order of "One status per payment"', () => {
    const p = checkout({ paymentStatus: 'unpaid' }, { status: 'processing', refunded: true });
    expect(assignPlan(p, ALICE, AMOUNT_RULE, null)).toMatchObject({ ok: false, refusal: 'pending' });
  });

  it('credits the chosen user by the rules, whatever the chain would have matched', () => {
    // The payment carries an id for another user: assign is the person's decision, not the chain's.
    const p = checkout({ clientReferenceId: '3', customerDetailsEmail: 'someone@else.org' }, { amountReceived: 1000 });
    const plan = assignPlan(p, ALICE, AMOUNT_RULE, null);
    expect(plan).toMatchObject({
      ok: true,
      creditSource: 'unit_amount',
      decision: {
        paymentKey: 'pi_1',
        checkoutSession: 'cs_1',
        paymentIntent: 'pi_1',
        userId: '1',
        credits: 100,
        status: 'credited',
        reason: null,
        creditRule: 'unit_amount',
        matchedBy: null,
        amount: 1000,
        currency: 'usd',
      },
    });
  });

  it('metadata credits win over the amount rule', () => {
    const plan = assignPlan(checkout({ metadata: { credits: '70' } }), ALICE, AMOUNT_RULE, null);
    expect(plan).toMatchObject({ ok: true, creditSource: 'metadata', decision: { credits: 70 } });
  });

  it.each<[string, Payment, AssignRefusal]>([
    ['invalid credits metadata', checkout({ metadata: { credits: '12abc' } }), 'invalid_credits'],
    ['no rule for the currency', checkout({ currency: 'eur' }), 'no_credit_rule'],
    ['a tiny amount that comes to 0 credits', checkout({ amountTotal: 5 }), 'no_credits'],
  ])('without --credits, %s is refused with a hint to give --credits', (_name, p, refusal) => {
    const plan = assignPlan(p, ALICE, AMOUNT_RULE, null);
    expect(plan).toMatchObject({ ok: false, refusal });
    if (!plan.ok) expect(plan.hint).toMatch(/--credits/);
  });

  it('--credits overrides the rules (and fills in where none applies)', () => {
    expect(assignPlan(checkout({ metadata: { credits: 'lots' } }), ALICE, AMOUNT_RULE, 25)).toMatchObject({
      ok: true,
      creditSource: 'override',
      decision: { credits: 25, creditRule: null, userId: '1' },
    });
    expect(assignPlan(checkout({ metadata: { credits: '70' } }), ALICE, AMOUNT_RULE, 5)).toMatchObject({
      ok: true,
      decision: { credits: 5 },
    });
  });

  it('--credits is still capped by maxCreditsPerPayment, and must be positive', () => {
    const capped = rules({ maxCreditsPerPayment: 100 });
    expect(assignPlan(checkout(), ALICE, capped, 101)).toMatchObject({
      ok: false,
      refusal: 'invalid_credits',
      message: expect.stringMatching(/maxCreditsPerPayment \(100\)/),
    });
    expect(assignPlan(checkout(), ALICE, capped, 100)).toMatchObject({ ok: true, decision: { credits: 100 } });
    expect(assignPlan(checkout(), ALICE, capped, 0)).toMatchObject({ ok: false, refusal: 'invalid_credits' });
    expect(assignPlan(checkout(), ALICE, capped, -5)).toMatchObject({ ok: false, refusal: 'invalid_credits' });
  });

  it('a rule result over maxCreditsPerPayment is invalid_credits', () => {
    expect(
      assignPlan(checkout({ metadata: { credits: '500' } }), ALICE, rules({ maxCreditsPerPayment: 100 }), null),
    ).toMatchObject({ ok: false, refusal: 'invalid_credits' });
  });

  it('credits.minAmountPerCredit does not block assign: the person decided (by the rules, or --credits)', () => {
    const floor = rules({ credits: { unitAmountPerCredit: { usd: 10 }, minAmountPerCredit: { usd: 5 } } });
    const cent = standalone({ amount: 1, amountReceived: 1, metadata: { credits: '5000' } });
    expect(assignPlan(cent, ALICE, floor, null)).toMatchObject({
      ok: true,
      creditSource: 'metadata',
      decision: { credits: 5000, status: 'credited', reason: null },
    });
    expect(assignPlan(cent, ALICE, floor, 1)).toMatchObject({
      ok: true,
      creditSource: 'override',
      decision: { credits: 1 },
    });
    // The other rules still hold without --credits.
    expect(assignPlan(standalone({ amountReceived: 1, metadata: { credits: 'x' } }), ALICE, floor, null)).toMatchObject(
      { ok: false, refusal: 'invalid_credits' },
    );
  });

  it('a session without a PaymentIntent is keyed by the session id', () => {
    const plan = assignPlan(
      checkout({ paymentStatus: 'no_payment_required', metadata: { credits: '3' } }, null),
      ALICE,
      AMOUNT_RULE,
      null,
    );
    expect(plan).toMatchObject({ ok: true, decision: { paymentKey: 'cs_1', paymentIntent: null, credits: 3 } });
  });
});

describe('explainMatch: how the chain reasons about one payment', () => {
  const users = directory(USERS);

  it('passes over an unknown id and shows what decided', () => {
    const p = checkout(
      { clientReferenceId: '999', customerDetailsEmail: 'Alice@Example.com ' },
      { metadata: { user_id: '1' } },
    );
    const e = explainMatch(p, users, matchConfig(), false);
    expect(e.steps).toEqual([
      {
        step: 'id',
        field: 'client_reference_id',
        value: '999',
        userIds: [],
        note: expect.stringMatching(/passed over/),
      },
      { step: 'id', field: 'metadata.user_id', value: '1', userIds: ['1'], note: 'user 1' },
      { step: 'email', field: 'email', value: 'alice@example.com', userIds: ['1'], note: 'user 1' },
    ]);
    expect(e.result).toMatchObject({ ok: true, matchedBy: 'metadata.user_id' });
    expect(e.summary).toBe('user 1, matched by metadata.user_id');
  });

  it('an ambiguous email names the candidates', () => {
    const e = explainMatch(checkout({ customerDetailsEmail: 'shared@example.com' }), users, matchConfig(), false);
    expect(e.steps).toEqual([
      { step: 'email', field: 'email', value: 'shared@example.com', userIds: ['3', '4'], note: 'users 3, 4' },
    ]);
    expect(e.summary).toMatch(/ambiguous_email.*candidates: users 3, 4/);
  });

  it('says why the customer and the email were not used', () => {
    const p = checkout({ customerId: 'cus_alice', customerDetailsEmail: 'alice@example.com' });
    const e = explainMatch(p, users, matchConfig({ byEmail: false }), false);
    expect(e.steps.map((s) => s.note)).toEqual([
      'not used: users.stripeCustomerId is not configured',
      'not used: match.byEmail is off',
    ]);
    expect(e.result).toMatchObject({ ok: false, reason: 'no_user' });
    expect(e.summary).toMatch(/^no single user \(no_user\)/);
  });

  it('uses the customer when the column is configured', () => {
    const e = explainMatch(checkout({ customerId: 'cus_shared' }), users, matchConfig(), true);
    expect(e.steps).toEqual([
      { step: 'customer', field: 'customer', value: 'cus_shared', userIds: ['3', '4'], note: 'users 3, 4' },
    ]);
    expect(e.result).toMatchObject({ ok: false, reason: 'ambiguous_customer' });
  });

  it('a payment with nothing to match on', () => {
    const e = explainMatch(checkout(), users, matchConfig(), true);
    expect(e.steps).toEqual([]);
    expect(e.result).toMatchObject({ ok: false, reason: 'no_user' });
  });
});

describe('paymentHolding: who holds a payment after reassignments', () => {
  let nextId = 1;
  const row = (kind: string, userId: string, credits: number, paymentKey = 'pi_1'): LedgerRow => ({
    id: nextId++,
    user_id: userId,
    credits,
    kind,
    payment_key: paymentKey,
    checkout_session_id: 'cs_1',
    payment_intent_id: paymentKey,
    amount: 1000,
    currency: 'usd',
    livemode: 0,
    actor: 'test',
    reason: null,
    run_id: null,
    created_at: '2026-01-01T00:00:00.000Z',
    matched_by: null,
    customer_id: null,
  });

  it('no purchase: not credited', () => {
    expect(paymentHolding([])).toBeNull();
    expect(paymentHolding([row('manual', '1', 5)])).toBeNull();
  });

  it('a purchase alone: its user holds it, generation 0', () => {
    expect(paymentHolding([row('purchase', '1', 100)])).toMatchObject({
      holderUserId: '1',
      credits: 100,
      generation: 0,
      netCredits: 100,
    });
  });

  it('after reassignments the last reassign_in decides, and the net stays one purchase', () => {
    const k1 = reassignKinds(1);
    const k2 = reassignKinds(2);
    const entries = [
      row('purchase', '1', 100),
      row(k1.out, '1', -100),
      row(k1.in, '2', 100),
      row(k2.out, '2', -100),
      row(k2.in, '5', 100),
    ];
    expect(paymentHolding(entries)).toMatchObject({ holderUserId: '5', credits: 100, generation: 2, netCredits: 100 });
    // Order of the rows does not matter.
    expect(paymentHolding([...entries].reverse())).toMatchObject({ holderUserId: '5', generation: 2 });
  });

  it('kinds are distinct per reassignment, so the unique (kind, payment_key) index allows each once', () => {
    expect(reassignKinds(1)).toEqual({ out: 'reassign_out.1', in: 'reassign_in.1' });
    expect(
      new Set([reassignKinds(1).out, reassignKinds(1).in, reassignKinds(2).out, reassignKinds(2).in, 'purchase']).size,
    ).toBe(5);
  });

  it('entries of another payment key (e.g. matched by session id) do not count', () => {
    const entries = [row('purchase', '1', 100), row(reassignKinds(1).in, '9', 100, 'pi_other')];
    expect(paymentHolding(entries)).toMatchObject({ holderUserId: '1', generation: 0, netCredits: 100 });
  });
});
