import { describe, expect, it } from 'vitest';
import { decideReversals, proportionalReversal, type ReversalContext } from '../../src/reconcile/reversals.js';
import type {
  DisputeSnapshot,
  PaymentReversalInput,
  RefundSnapshot,
  ReversalDecision,
  ReversalsConfig,
  WrittenReversal,
} from '../../src/reconcile/types.js';
import { T0 } from './builders.js';

/** SPEC "Reversals": refunds and disputes of one credited payment, decided against what the ledger holds. */

const PI = 'pi_3MtwBwLkdIwHu7ix28a3tqPa';

function refund(id: string, amount: number, status: RefundSnapshot['status'] = 'succeeded', at = 1): RefundSnapshot {
  return { id, amount, status, created: T0 + at * 60 };
}

function dispute(id: string, amount: number, status: DisputeSnapshot['status'], at = 1): DisputeSnapshot {
  return { id, amount, status, created: T0 + at * 60 };
}

function payment(o: Partial<PaymentReversalInput> = {}): PaymentReversalInput {
  return {
    paymentKey: PI,
    purchase: { userId: '42', credits: 100 },
    amountPaid: 1000,
    refunds: [],
    disputes: [],
    written: [],
    ...o,
  };
}

const DEBIT: ReversalsConfig = { refunds: 'debit', disputes: 'debit' };

function ctx(o: Partial<ReversalContext> = {}): ReversalContext {
  return { policy: DEBIT, dryRun: false, ...o };
}

type Short = [id: string, credits: number, status: ReversalDecision['status'], reason: ReversalDecision['reason']];

function short(ds: readonly ReversalDecision[]): Short[] {
  return ds.map((d) => [d.id, d.credits, d.status, d.reason]);
}

/** The entries a writer makes of the decisions (what `reversed` and `reinstated` mean). */
function written(ds: readonly ReversalDecision[]): WrittenReversal[] {
  return ds
    .filter((d) => d.status === 'reversed' || d.status === 'reinstated')
    .map((d) => ({ kind: d.kind, id: d.id, credits: d.credits }));
}

const sum = (ws: readonly WrittenReversal[]) => ws.reduce((s, w) => s + w.credits, 0);

const RE_A = 're_3MtwBwLkdIwHu7ix1aAbCdEf';
const RE_B = 're_3MtwBwLkdIwHu7ix1bGhIjKl';
const RE_C = 're_3MtwBwLkdIwHu7ix1cMnOpQr';
const DP = 'dp_1MtwBwLkdIwHu7ixQ9rStUvW';

describe('reversals: one decision per refund or dispute', () => {
  it.each<[string, Partial<PaymentReversalInput>, Partial<ReversalContext>, Short[]]>([
    ['full refund', { refunds: [refund(RE_A, 1000)] }, {}, [[RE_A, -100, 'reversed', null]]],
    ['partial refund, in proportion', { refunds: [refund(RE_A, 250)] }, {}, [[RE_A, -25, 'reversed', null]]],
    [
      'partial refund, rounded down in the user’s favour',
      { purchase: { userId: '42', credits: 10 }, refunds: [refund(RE_A, 333)] },
      {},
      [[RE_A, -3, 'reversed', null]],
    ],
    [
      'several partial refunds sum exactly to the whole',
      {
        refunds: [
          refund(RE_A, 333, 'succeeded', 1),
          refund(RE_B, 333, 'succeeded', 2),
          refund(RE_C, 334, 'succeeded', 3),
        ],
      },
      {},
      [
        [RE_A, -33, 'reversed', null],
        [RE_B, -33, 'reversed', null],
        [RE_C, -34, 'reversed', null],
      ],
    ],
    [
      'several partial refunds, each the difference of running totals',
      {
        purchase: { userId: '42', credits: 10 },
        amountPaid: 900,
        refunds: [
          refund(RE_A, 300, 'succeeded', 1),
          refund(RE_B, 300, 'succeeded', 2),
          refund(RE_C, 300, 'succeeded', 3),
        ],
      },
      {},
      [
        [RE_A, -3, 'reversed', null],
        [RE_B, -3, 'reversed', null],
        [RE_C, -4, 'reversed', null],
      ],
    ],
    [
      'ordered by created, then id, whatever the input order',
      {
        refunds: [
          refund(RE_C, 334, 'succeeded', 2),
          refund(RE_B, 333, 'succeeded', 1),
          refund(RE_A, 333, 'succeeded', 1),
        ],
      },
      {},
      [
        [RE_A, -33, 'reversed', null],
        [RE_B, -33, 'reversed', null],
        [RE_C, -34, 'reversed', null],
      ],
    ],
    [
      'a refund whose share rounds to 0 takes nothing; the next takes the running total',
      { refunds: [refund(RE_A, 5, 'succeeded', 1), refund(RE_B, 5, 'succeeded', 2)] },
      {},
      [
        [RE_A, 0, 'skipped', 'nothing_to_reverse'],
        [RE_B, -1, 'reversed', null],
      ],
    ],
    [
      'failed refund, nothing taken',
      { refunds: [refund(RE_A, 500, 'failed')] },
      {},
      [[RE_A, 0, 'skipped', 'not_taken']],
    ],
    [
      'canceled refund, nothing taken',
      { refunds: [refund(RE_A, 500, 'canceled')] },
      {},
      [[RE_A, 0, 'skipped', 'not_taken']],
    ],
    [
      'pending refund takes nothing yet',
      { refunds: [refund(RE_A, 500, 'pending')] },
      {},
      [[RE_A, 0, 'skipped', 'pending']],
    ],
    [
      'refund requiring action takes nothing yet',
      { refunds: [refund(RE_A, 500, 'requires_action')] },
      {},
      [[RE_A, 0, 'skipped', 'pending']],
    ],
    [
      'refund failed after its reversal: that reversal back, once',
      { refunds: [refund(RE_A, 500, 'failed')], written: [{ kind: 'reversal', id: RE_A, credits: -50 }] },
      {},
      [[RE_A, 50, 'reinstated', null]],
    ],
    [
      'refund canceled after its reversal: exactly what was written comes back',
      { refunds: [refund(RE_A, 500, 'canceled')], written: [{ kind: 'reversal', id: RE_A, credits: -49 }] },
      {},
      [[RE_A, 49, 'reinstated', null]],
    ],
    [
      'refund already reinstated: nothing new',
      {
        refunds: [refund(RE_A, 500, 'failed')],
        written: [
          { kind: 'reversal', id: RE_A, credits: -50 },
          { kind: 'reinstatement', id: RE_A, credits: 50 },
        ],
      },
      {},
      [[RE_A, 50, 'already_reversed', null]],
    ],
    ['dispute lost', { disputes: [dispute(DP, 1000, 'lost')] }, {}, [[DP, -100, 'reversed', null]]],
    [
      'dispute open (needs_response): taken at creation',
      { disputes: [dispute(DP, 1000, 'needs_response')] },
      {},
      [[DP, -100, 'reversed', null]],
    ],
    [
      'dispute open (under_review)',
      { disputes: [dispute(DP, 1000, 'under_review')] },
      {},
      [[DP, -100, 'reversed', null]],
    ],
    [
      'an inquiry (warning_*) withdraws nothing',
      { disputes: [dispute(DP, 1000, 'warning_needs_response')] },
      {},
      [[DP, 0, 'skipped', 'pending']],
    ],
    ['dispute won, never reversed', { disputes: [dispute(DP, 1000, 'won')] }, {}, [[DP, 0, 'skipped', 'not_taken']]],
    [
      'dispute won after its reversal: given back',
      { disputes: [dispute(DP, 1000, 'won')], written: [{ kind: 'reversal', id: DP, credits: -100 }] },
      {},
      [[DP, 100, 'reinstated', null]],
    ],
    [
      'dispute after a partial refund takes what the refund has not',
      {
        refunds: [refund(RE_A, 300, 'succeeded', 1)],
        disputes: [dispute(DP, 700, 'lost', 2)],
        written: [{ kind: 'reversal', id: RE_A, credits: -30 }],
      },
      {},
      [
        [RE_A, -30, 'already_reversed', null],
        [DP, -70, 'reversed', null],
      ],
    ],
    [
      'a dispute of the whole charge after a partial refund: never more than was credited',
      { refunds: [refund(RE_A, 333, 'succeeded', 1)], disputes: [dispute(DP, 1000, 'needs_response', 2)] },
      {},
      [
        [RE_A, -33, 'reversed', null],
        [DP, -67, 'reversed', null],
      ],
    ],
    [
      'policy review: to the review queue with the credits at stake',
      { refunds: [refund(RE_A, 500, 'succeeded', 1)], disputes: [dispute(DP, 500, 'lost', 2)] },
      { policy: { refunds: 'review', disputes: 'review' } },
      [
        [RE_A, -50, 'needs_review', 'refunded_after_credit'],
        [DP, -50, 'needs_review', 'disputed_after_credit'],
      ],
    ],
    [
      'policy ignore: skipped, the share shown',
      { refunds: [refund(RE_A, 500)] },
      { policy: { refunds: 'ignore', disputes: 'debit' } },
      [[RE_A, -50, 'skipped', 'ignored']],
    ],
    [
      'refunds ignored, disputes debited: the dispute does not take the refund’s share',
      { refunds: [refund(RE_A, 300, 'succeeded', 1)], disputes: [dispute(DP, 700, 'lost', 2)] },
      { policy: { refunds: 'ignore', disputes: 'debit' } },
      [
        [RE_A, -30, 'skipped', 'ignored'],
        [DP, -70, 'reversed', null],
      ],
    ],
    [
      'a reinstatement under review needs no person',
      { refunds: [refund(RE_A, 500, 'failed')], written: [{ kind: 'reversal', id: RE_A, credits: -50 }] },
      { policy: { refunds: 'review', disputes: 'review' } },
      [[RE_A, 50, 'reinstated', null]],
    ],
    [
      'a reinstatement under ignore is left alone',
      { refunds: [refund(RE_A, 500, 'failed')], written: [{ kind: 'reversal', id: RE_A, credits: -50 }] },
      { policy: { refunds: 'ignore', disputes: 'debit' } },
      [[RE_A, 50, 'skipped', 'ignored']],
    ],
    [
      'dry run: would_reverse and would_reinstate',
      {
        refunds: [refund(RE_A, 500, 'failed', 1), refund(RE_B, 200, 'succeeded', 2)],
        written: [{ kind: 'reversal', id: RE_A, credits: -50 }],
      },
      { dryRun: true },
      [
        [RE_A, 50, 'would_reinstate', null],
        [RE_B, -20, 'would_reverse', null],
      ],
    ],
    [
      'a dismissed review entry is skipped, and the next refund does not take its share',
      { refunds: [refund(RE_A, 500, 'succeeded', 1), refund(RE_B, 200, 'succeeded', 2)] },
      { policy: { refunds: 'review', disputes: 'review' }, isDismissed: (id) => id === RE_A },
      [
        [RE_A, -50, 'skipped', 'dismissed'],
        [RE_B, -20, 'needs_review', 'refunded_after_credit'],
      ],
    ],
    [
      'never credited: nothing to take back',
      { purchase: null, refunds: [refund(RE_A, 1000)], disputes: [dispute(DP, 1000, 'lost', 2)] },
      {},
      [
        [RE_A, 0, 'skipped', 'not_credited'],
        [DP, 0, 'skipped', 'not_credited'],
      ],
    ],
    [
      'credited with 0 credits: nothing to take back',
      { purchase: { userId: '42', credits: 0 }, refunds: [refund(RE_A, 1000)] },
      {},
      [[RE_A, 0, 'skipped', 'nothing_to_reverse']],
    ],
  ])('%s', (_name, input, c, expected) => {
    const ds = decideReversals(payment(input), ctx(c));
    expect(short(ds)).toEqual(expected);
    for (const d of ds) {
      expect(d.paymentKey).toBe(PI);
      expect(d.kind).toBe(d.credits > 0 ? 'reinstatement' : 'reversal');
      expect(d.userId).toBe(input.purchase === null ? null : '42');
    }
  });

  it('each decision says what it is and whose: SPEC’s item plus kind and source', () => {
    const [d] = decideReversals(payment({ disputes: [dispute(DP, 1000, 'lost')] }), ctx());
    expect(d).toEqual({
      id: DP,
      source: 'dispute',
      paymentKey: PI,
      userId: '42',
      credits: -100,
      status: 'reversed',
      reason: null,
      kind: 'reversal',
    });
  });

  it('a ledger entry for a refund the input lacks is a caller’s bug, not a case', () => {
    const input = payment({ refunds: [refund(RE_B, 100)], written: [{ kind: 'reversal', id: RE_A, credits: -10 }] });
    expect(() => decideReversals(input, ctx())).toThrow(/reversal for re_.*not in the input/);
  });
});

describe('reversals: exactly once', () => {
  it('deciding again after writing yields already_reversed, never a second entry', () => {
    const input = payment({
      refunds: [refund(RE_A, 333, 'succeeded', 1), refund(RE_B, 333, 'succeeded', 2)],
      disputes: [dispute(DP, 334, 'lost', 3)],
    });
    const first = written(decideReversals(input, ctx()));
    expect(sum(first)).toBe(-100);
    const again = decideReversals({ ...input, written: first }, ctx());
    expect(again.map((d) => d.status)).toEqual(['already_reversed', 'already_reversed', 'already_reversed']);
    expect(written(again)).toEqual([]);
  });

  it('a refund reinstated, then another partial refund: the new one takes its own share only', () => {
    const a = refund(RE_A, 300, 'succeeded', 1);
    const step1 = written(decideReversals(payment({ refunds: [a] }), ctx()));
    expect(step1).toEqual([{ kind: 'reversal', id: RE_A, credits: -30 }]);
    const failed = { ...a, status: 'failed' as const };
    const step2 = written(decideReversals(payment({ refunds: [failed], written: step1 }), ctx()));
    expect(step2).toEqual([{ kind: 'reinstatement', id: RE_A, credits: 30 }]);
    const b = refund(RE_B, 300, 'succeeded', 2);
    const step3 = decideReversals(payment({ refunds: [failed, b], written: [...step1, ...step2] }), ctx());
    expect(short(step3)).toEqual([
      [RE_A, 30, 'already_reversed', null],
      [RE_B, -30, 'reversed', null],
    ]);
  });

  it('a refund failing and another succeeding in one decision', () => {
    const input = payment({
      refunds: [refund(RE_A, 300, 'failed', 1), refund(RE_B, 300, 'succeeded', 2)],
      written: [{ kind: 'reversal', id: RE_A, credits: -30 }],
    });
    const ds = decideReversals(input, ctx());
    expect(short(ds)).toEqual([
      [RE_A, 30, 'reinstated', null],
      [RE_B, -30, 'reversed', null],
    ]);
  });

  it('a later refund seen first: the earlier ones, decided after, still sum exactly', () => {
    const [a, b, c] = [
      refund(RE_A, 333, 'succeeded', 1),
      refund(RE_B, 333, 'succeeded', 2),
      refund(RE_C, 334, 'succeeded', 3),
    ];
    const seenFirst = written(decideReversals(payment({ refunds: [c] }), ctx()));
    expect(seenFirst).toEqual([{ kind: 'reversal', id: RE_C, credits: -33 }]);
    const rest = written(decideReversals(payment({ refunds: [a, b, c], written: seenFirst }), ctx()));
    expect(sum([...seenFirst, ...rest])).toBe(-100);
  });

  it('a dispute won and given back, then a partial refund: the refund takes its own share', () => {
    const input = payment({
      disputes: [dispute(DP, 1000, 'won', 1)],
      refunds: [refund(RE_A, 500, 'succeeded', 2)],
      written: [
        { kind: 'reversal', id: DP, credits: -100 },
        { kind: 'reinstatement', id: DP, credits: 100 },
      ],
    });
    expect(short(decideReversals(input, ctx()))).toEqual([
      [DP, 100, 'already_reversed', null],
      [RE_A, -50, 'reversed', null],
    ]);
  });

  it('a dispute won after a partial refund gives back only the dispute’s share', () => {
    const input = payment({
      refunds: [refund(RE_A, 300, 'succeeded', 1)],
      disputes: [dispute(DP, 700, 'won', 2)],
      written: [
        { kind: 'reversal', id: RE_A, credits: -30 },
        { kind: 'reversal', id: DP, credits: -70 },
      ],
    });
    expect(short(decideReversals(input, ctx()))).toEqual([
      [RE_A, -30, 'already_reversed', null],
      [DP, 70, 'reinstated', null],
    ]);
  });

  /**
   * Many random histories: refunds appear in any order and some fail later; after every step the
   * entries sum to the rounded-down proportion of what is refunded, never more than was credited,
   * and each id has at most one entry of each kind.
   */
  it('random histories: after every step the entries sum to -floor(credited × refunded / paid)', () => {
    let seed = 17;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const credited = 1 + rnd(5000);
      const paid = 100 + rnd(100_000);
      const all = randomRefunds(paid, 1 + rnd(6), rnd);
      let known: RefundSnapshot[] = [];
      let ledger: WrittenReversal[] = [];
      for (const r of shuffle(all, rnd)) {
        known = [...known, r];
        if (rnd(3) === 0 && known.length > 1) {
          const i = rnd(known.length);
          known = known.map((k, j) => (j === i && k.status === 'succeeded' ? { ...k, status: 'failed' } : k));
        }
        ledger = [
          ...ledger,
          ...written(
            decideReversals(
              payment({
                purchase: { userId: '7', credits: credited },
                amountPaid: paid,
                refunds: known,
                written: ledger,
              }),
              ctx(),
            ),
          ),
        ];
        const refunded = known.filter((k) => k.status === 'succeeded').reduce((s, k) => s + k.amount, 0);
        expect(sum(ledger)).toBe(proportionalReversal(credited, refunded, paid));
        expect(sum(ledger)).toBeGreaterThanOrEqual(-credited);
        const keys = ledger.map((w) => `${w.kind}/${w.id}`);
        expect(new Set(keys).size).toBe(keys.length);
      }
    }
  });
  it('random histories with a dispute of the rest: never more than was credited, exact once it is lost', () => {
    let seed = 4242;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const credited = 1 + rnd(5000);
      const paid = 100 + rnd(100_000);
      const refunds = randomRefunds(paid, 1 + rnd(4), rnd).slice(0, -1);
      const rest = paid - refunds.reduce((s, r) => s + r.amount, 0);
      const dp = dispute(`dp_Rnd${round}`, rest > 0 ? rest : paid, 'needs_response', 10);
      let ledger: WrittenReversal[] = [];
      for (const status of ['needs_response', 'lost'] as const) {
        const input = payment({
          purchase: { userId: '7', credits: credited },
          amountPaid: paid,
          refunds,
          disputes: [{ ...dp, status }],
          written: ledger,
        });
        ledger = [...ledger, ...written(decideReversals(input, ctx()))];
        expect(sum(ledger)).toBe(-credited);
      }
      const won = payment({
        purchase: { userId: '7', credits: credited },
        amountPaid: paid,
        refunds,
        disputes: [{ ...dp, status: 'won' }],
        written: ledger,
      });
      ledger = [...ledger, ...written(decideReversals(won, ctx()))];
      const refunded = refunds.reduce((s, r) => s + r.amount, 0);
      expect(sum(ledger)).toBe(proportionalReversal(credited, refunded, paid));
    }
  });
});

function randomRefunds(paid: number, n: number, rnd: (n: number) => number): RefundSnapshot[] {
  const out: RefundSnapshot[] = [];
  let left = paid;
  for (let i = 0; i < n && left > 0; i++) {
    const amount = i === n - 1 ? left : 1 + rnd(left);
    left -= amount;
    out.push(refund(`re_${i}Rnd${rnd(1e6)}`, amount, 'succeeded', i));
  }
  return out;
}

function shuffle<T>(xs: readonly T[], rnd: (n: number) => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rnd(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('proportionalReversal', () => {
  it.each<[number, number, number, number]>([
    [100, 1000, 1000, -100],
    [100, 250, 1000, -25],
    [10, 333, 1000, -3],
    [100, 2000, 1000, -100],
    [100, 0, 1000, 0],
    [0, 1000, 1000, 0],
    [100, 500, 0, 0],
    [100_000, 99_999_999, 100_000_000, -99_999],
  ])('credited %i, taken %i of %i: %i', (credited, taken, paid, expected) => {
    expect(proportionalReversal(credited, taken, paid)).toBe(expected);
  });
});
