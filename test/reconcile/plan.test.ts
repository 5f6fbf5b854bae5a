import { describe, expect, it } from 'vitest';
import { countStatus, emptyCounts, planPayments } from '../../src/reconcile/plan.js';
import type { PaymentDecision, PaymentStatus } from '../../src/reconcile/types.js';
import { checkout, context, standalone } from './builders.js';

const users = [{ id: '1', email: 'a@example.com' }];
const base = { users, credits: { unitAmountPerCredit: { usd: 10 } } };

describe('planPayments', () => {
  const payments = [
    checkout({ id: 'cs_a', clientReferenceId: '1', amountTotal: 1000 }, { id: 'pi_a' }), // 100
    checkout({ id: 'cs_a', clientReferenceId: '1', amountTotal: 1000 }, { id: 'pi_a' }), // duplicate key
    standalone({ id: 'pi_a', metadata: { user_id: '1', credits: '999' } }), // same key, decided already
    standalone({ id: 'pi_b', metadata: { user_id: '1', credits: '25' } }), // 25
    checkout({ id: 'cs_c', clientReferenceId: '1', amountTotal: 5 }, { id: 'pi_c' }), // no_credits
    checkout({ id: 'cs_d', amountTotal: 5000 }, { id: 'pi_d' }), // no_user
    checkout({ id: 'cs_e', clientReferenceId: '1', amountTotal: 7000 }, { id: 'pi_e' }), // already credited
    checkout({ id: 'cs_f', clientReferenceId: '1', paymentStatus: 'unpaid' }, { id: 'pi_f', status: 'processing' }), // pending
  ];

  it.each([
    [false, 'credited', 125],
    [true, 'would_credit', 125],
  ] as const)('dryRun %s: one decision per payment key, creditsToWrite sums %s', (dryRun, status, total) => {
    const plan = planPayments(payments, context({ ...base, credited: ['pi_e'], dryRun }));
    expect(plan.decisions.map((d) => [d.paymentKey, d.status, d.credits])).toEqual([
      ['pi_a', status, 100],
      ['pi_b', status, 25],
      ['pi_c', 'skipped', 0],
      ['pi_d', 'needs_review', null],
      ['pi_e', 'already_credited', null],
      ['pi_f', 'pending', null],
    ]);
    expect(plan.creditsToWrite).toBe(total);
  });

  it('an empty batch plans nothing', () => {
    expect(planPayments([], context(base))).toEqual({ decisions: [], creditsToWrite: 0 });
  });
});

describe('counts', () => {
  const d = (status: PaymentStatus) => ({ status }) as PaymentDecision;
  const countAll = (decisions: readonly PaymentDecision[]) => {
    const counts = emptyCounts();
    for (const x of decisions) countStatus(counts, x.status);
    return counts;
  };

  it('countStatus counts every decision in payments and once under its status', () => {
    const statuses: PaymentStatus[] = [
      'credited',
      'credited',
      'would_credit',
      'already_credited',
      'needs_review',
      'needs_review',
      'needs_review',
      'pending',
      'skipped',
      'skipped',
    ];
    expect(countAll(statuses.map(d))).toEqual({
      payments: 10,
      credited: 2,
      wouldCredit: 1,
      alreadyCredited: 1,
      needsReview: 3,
      pending: 1,
      skipped: 2,
    });
  });

  it.each<[PaymentStatus, string]>([
    ['credited', 'credited'],
    ['would_credit', 'wouldCredit'],
    ['already_credited', 'alreadyCredited'],
    ['needs_review', 'needsReview'],
    ['pending', 'pending'],
    ['skipped', 'skipped'],
  ])('countStatus %s -> counts.%s', (status, field) => {
    const counts = emptyCounts();
    countStatus(counts, status);
    expect(counts).toEqual({ ...emptyCounts(), payments: 1, [field]: 1 });
  });

  it('no decisions count as all zeros', () => {
    expect(countAll([])).toEqual(emptyCounts());
    expect(Object.values(emptyCounts()).every((v) => v === 0)).toBe(true);
  });
});
