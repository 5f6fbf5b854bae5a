import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ReconcileReport } from '../../src/app/reconcile.js';
import { jsonItem, reconcileJsonHead, writeReconcileJson } from '../../src/cli/output.js';
import { CompactPlan, type RunPlan } from '../../src/plan/compact-plan.js';
import { countStatus, emptyCounts } from '../../src/reconcile/plan.js';
import type { PaymentDecision, PaymentStatus } from '../../src/reconcile/types.js';

/** The counts of a list of decisions, each once under its status. */
function countAll(decisions: readonly PaymentDecision[]) {
  const counts = emptyCounts();
  for (const d of decisions) countStatus(counts, d.status);
  return counts;
}

const STATUSES: PaymentStatus[] = [
  'credited',
  'would_credit',
  'already_credited',
  'needs_review',
  'pending',
  'skipped',
];

/** A decision with every field set to something other than its neighbour's. */
function full(n: number, status: PaymentStatus): PaymentDecision {
  return {
    paymentKey: `pi_${n}`,
    checkoutSession: `cs_${n}`,
    paymentIntent: `pi_${n}`,
    amount: 1000 + n,
    currency: n % 2 ? 'usd' : 'jpy',
    userId: String(n),
    matchedBy: n % 2 ? 'client_reference_id' : 'metadata.user_id',
    credits: 10 + n,
    status,
    reason: status === 'needs_review' ? 'ambiguous_email' : status === 'skipped' ? 'refunded' : null,
    paidAt: 1_790_000_000 + n,
    livemode: n % 2 === 0,
    creditRule: n % 2 ? 'unit_amount' : 'metadata',
    unknownIds: [`u${n}`],
    candidateUserIds: [`${n}`, `${n + 1}`],
    emails: [`a${n}@example.com`, `b${n}@example.com`],
    customerId: `cus_${n}`,
    name: `Name ${n}`,
  };
}

/** The same with every field that can be null or empty so. */
function bare(n: number, status: PaymentStatus): PaymentDecision {
  return {
    paymentKey: `cs_bare_${n}`,
    checkoutSession: null,
    paymentIntent: null,
    amount: null,
    currency: null,
    userId: null,
    matchedBy: null,
    credits: null,
    status,
    reason: null,
    paidAt: 0,
    livemode: false,
    creditRule: null,
    unknownIds: [],
    candidateUserIds: [],
    emails: [],
    customerId: null,
    name: null,
  };
}

/** The decision under another payment key: its PaymentIntent's id, or a session's (no PaymentIntent). */
function withKey(d: PaymentDecision, paymentKey: string): PaymentDecision {
  return { ...d, paymentKey, paymentIntent: paymentKey.startsWith('pi_') ? paymentKey : null };
}

describe('CompactPlan', () => {
  it.each(STATUSES)(
    'rebuilds a %s decision field for field, with every field set and with every field null or empty',
    (status) => {
      const plan = new CompactPlan();
      const decisions = [
        full(1, status),
        bare(2, status),
        full(2, status),
        { ...full(3, status), credits: 0, amount: 0 },
      ];
      decisions.forEach((d, i) => expect(plan.push(d)).toBe(i));
      expect(plan.length).toBe(decisions.length);
      decisions.forEach((d, i) => {
        expect(plan.decision(i)).toStrictEqual(d);
        expect(plan.status(i)).toBe(status);
        expect(plan.paymentKey(i)).toBe(d.paymentKey);
        expect(plan.livemode(i)).toBe(d.livemode);
        expect(plan.creditedBefore(i)).toBe(status === 'already_credited');
      });
    },
  );

  it('keeps a payment keyed by its session, large and negative amounts, and values shared between payments', () => {
    const plan = new CompactPlan();
    const odd = {
      ...full(1, 'credited'),
      paymentKey: 'cs_key',
      paymentIntent: null,
      amount: -5,
      credits: 2 ** 40,
    };
    const twin = withKey(full(1, 'credited'), 'pi_twin'); // same user, emails, lists as full(1)
    plan.push(full(1, 'credited'));
    plan.push(odd);
    plan.push(twin);
    expect(plan.decision(1)).toStrictEqual(odd);
    expect(plan.decision(2)).toStrictEqual(twin);
    expect(plan.decision(0)).toStrictEqual(full(1, 'credited'));
  });

  it('keeps numbers that are not 32-bit integers after many that are (amounts, credits, times past 2038), nulls included', () => {
    const plan = new CompactPlan();
    for (let n = 0; n < 3000; n++) plan.push(n % 7 ? full(n, 'credited') : bare(n, 'skipped'));
    const odd = [
      { ...full(5000, 'credited'), credits: 2.5 },
      { ...full(5001, 'credited'), amount: 2 ** 31 },
      { ...full(5002, 'credited'), amount: -(2 ** 31), credits: -0 },
      { ...full(5003, 'credited'), paidAt: 2 ** 32 + 7 },
    ];
    for (const d of odd) plan.push(d);
    for (let n = 0; n < 3000; n++)
      expect(plan.decision(n)).toStrictEqual(n % 7 ? full(n, 'credited') : bare(n, 'skipped'));
    odd.forEach((d, k) => expect(plan.decision(3000 + k)).toStrictEqual(d));
    plan.sort();
    expect(plan.at(plan.length - 1)).toBe(3003);
  });

  it('refuses a decision whose PaymentIntent is not its payment key (the core keys a payment by its PaymentIntent)', () => {
    const plan = new CompactPlan();
    expect(() => plan.push({ ...full(1, 'credited'), paymentKey: 'cs_key', paymentIntent: 'pi_other' })).toThrow(
      /PaymentIntent pi_other/,
    );
    expect(plan.length).toBe(0);
  });

  it('keeps apart lists that could be taken for one another: one element, its JSON, two elements', () => {
    const plan = new CompactPlan();
    const lists = [['a'], ['["a"]'], ['a', 'b'], ['["a","b"]'], ['a,b'], ['']];
    lists.forEach((emails, n) => plan.push({ ...full(n + 1, 'needs_review'), emails, unknownIds: emails }));
    lists.forEach((emails, n) => {
      expect(plan.decision(n).emails).toEqual(emails);
      expect(plan.decision(n).unknownIds).toEqual(emails);
    });
  });

  it('credit() rebuilds what the ledger entry is made of, the same as the decision says', () => {
    const plan = new CompactPlan();
    const decisions = [
      full(1, 'credited'),
      bare(2, 'credited'),
      { ...full(3, 'credited'), paymentKey: 'cs_key', paymentIntent: null },
    ];
    decisions.forEach((d) => plan.push(d));
    decisions.forEach((d, i) => {
      const {
        paymentKey,
        checkoutSession,
        paymentIntent,
        userId,
        credits,
        amount,
        currency,
        livemode,
        matchedBy,
        customerId,
      } = d;
      expect(plan.credit(i)).toStrictEqual({
        paymentKey,
        checkoutSession,
        paymentIntent,
        userId,
        credits,
        amount,
        currency,
        livemode,
        matchedBy,
        customerId,
      });
    });
  });

  it('rebuilds new objects: changing one, or the decision it was built from, changes nothing in the plan', () => {
    const plan = new CompactPlan();
    const d = full(1, 'credited');
    plan.push(d);
    d.emails.push('changed@example.com');
    d.unknownIds.length = 0;
    const out = plan.decision(0);
    out.status = 'skipped';
    out.candidateUserIds.push('9');
    expect(plan.decision(0)).toStrictEqual(full(1, 'credited'));
  });

  it('setStatus changes the status only; creditedBefore still tells what the plan found', () => {
    const plan = new CompactPlan();
    plan.push(full(1, 'credited'));
    plan.push(full(2, 'already_credited'));
    plan.setStatus(0, 'already_credited');
    expect(plan.decision(0)).toStrictEqual({ ...full(1, 'credited'), status: 'already_credited' });
    expect(plan.creditedBefore(0)).toBe(false);
    expect(plan.creditedBefore(1)).toBe(true);
  });

  it('sorts by time paid, then payment key; reported() leaves out what was credited before, and can be iterated again', () => {
    const plan = new CompactPlan();
    const c = { ...withKey(full(1, 'credited'), 'pi_c'), paidAt: 30 };
    const b = { ...withKey(full(2, 'needs_review'), 'pi_b'), paidAt: 10 };
    const a = { ...withKey(full(3, 'pending'), 'pi_a'), paidAt: 10 };
    const before = { ...withKey(full(4, 'already_credited'), 'pi_0'), paidAt: 5 };
    for (const d of [c, b, before, a]) plan.push(d);
    expect([...plan.decisions()].map((d) => d.paymentKey)).toEqual(['pi_c', 'pi_b', 'pi_0', 'pi_a']);
    plan.sort();
    expect([...plan.indexes()]).toEqual([2, 3, 1, 0]);
    expect([...plan.decisions()]).toStrictEqual([before, a, b, c]);
    const reported = plan.reported();
    expect([...reported]).toStrictEqual([a, b, c]);
    expect([...reported]).toStrictEqual([a, b, c]);
  });

  it('byPaymentKey orders every index by payment key (the write order), whatever the plan order', () => {
    const plan = new CompactPlan();
    const keys = ['pi_3Zb', 'pi_3aB', 'cs_test_a1', 'pi_3A', 'pi_3Za', 'pi_3Z'];
    keys.forEach((k, n) => plan.push({ ...withKey(full(n + 1, 'credited'), k), paidAt: 100 - n }));
    plan.sort();
    const order = [...plan.byPaymentKey()];
    expect(order.map((i) => plan.paymentKey(i))).toEqual([...keys].sort());
    expect(new Set(order).size).toBe(keys.length);
    expect([...plan.indexes()]).toEqual([5, 4, 3, 2, 1, 0]); // plan order unchanged
  });

  it('as a RunPlan: finds a decision by payment key or session id, the first of a mode and the keys of a status, in plan order', () => {
    const plan: RunPlan = new CompactPlan();
    const live = { ...full(2, 'needs_review'), paidAt: 20 }; // full(n) is live when n is even
    const test = { ...full(1, 'credited'), paidAt: 30 };
    const keyedBySession = { ...bare(3, 'needs_review'), paidAt: 10 };
    for (const d of [test, live, keyedBySession]) (plan as CompactPlan).push(d);
    expect(plan.find('pi_2')).toStrictEqual(live);
    expect(plan.find('cs_1')).toStrictEqual(test);
    expect(plan.find('cs_bare_3')).toStrictEqual(keyedBySession);
    expect(plan.find('pi_9')).toBeNull();
    expect([plan.has('cs_2'), plan.has('pi_1'), plan.has('cs_9')]).toEqual([true, true, false]);
    expect(plan.firstInMode(true)).toStrictEqual(live);
    expect(plan.keysWithStatus('needs_review')).toEqual(['pi_2', 'cs_bare_3']);
    plan.sort();
    expect(plan.keysWithStatus('needs_review')).toEqual(['cs_bare_3', 'pi_2']);
    expect(plan.firstInMode(false)).toStrictEqual(keyedBySession);
    expect(new CompactPlan().firstInMode(true)).toBeNull();
  });

  it('counts as countAll counts the decisions', () => {
    const plan = new CompactPlan();
    const decisions = STATUSES.flatMap((s, i) => Array.from({ length: i + 1 }, (_, j) => full(i * 10 + j, s)));
    for (const d of decisions) plan.push(d);
    expect(plan.counts()).toEqual(countAll(decisions));
    expect(new CompactPlan().counts()).toEqual(emptyCounts());
  });

  it('grows past its first allocation and refuses indexes it does not hold', () => {
    const plan = new CompactPlan();
    for (let i = 0; i < 5000; i++) plan.push(full(i, STATUSES[i % STATUSES.length]!));
    expect(plan.decision(4321)).toStrictEqual(full(4321, STATUSES[4321 % STATUSES.length]!));
    expect(plan.decision(0)).toStrictEqual(full(0, 'credited'));
    expect(() => plan.decision(5000)).toThrow(RangeError);
    expect(() => plan.decision(-1)).toThrow(RangeError);
    expect(() => plan.at(5000)).toThrow(RangeError);
  });

  it('widens its value indexes past one and two bytes without losing the earlier ones; answers which keys and sessions it holds', () => {
    const plan = new CompactPlan();
    const n = 70_000;
    for (let i = 0; i < n; i++) plan.push(full(i, 'credited'));
    for (const i of [0, 255, 256, 65_535, 65_536, n - 1]) expect(plan.decision(i)).toStrictEqual(full(i, 'credited'));
    expect(plan.hasPaymentKey('pi_69999')).toBe(true);
    expect(plan.hasPaymentKey('pi_70000')).toBe(false);
    expect(plan.hasCheckoutSession('cs_12345')).toBe(true);
    expect(plan.hasCheckoutSession('pi_12345')).toBe(false);
    plan.push(full(n, 'credited'));
    expect(plan.hasCheckoutSession(`cs_${n}`)).toBe(true);
  });
});

describe('writeReconcileJson', () => {
  function report(decisions: PaymentDecision[]): ReconcileReport {
    return {
      mode: 'apply',
      source: 'window',
      window: { since: 1_790_000_000, until: 1_790_086_400 },
      counts: { ...countAll(decisions), reversed: 0 },
      creditsWritten: 12,
      creditsPlanned: 12,
      decisions,
      newInReview: ['pi_2'],
      reversals: [],
      reversalsNewInReview: [],
      notes: ['a note with "quotes"\nand a newline'],
      runId: 7,
      requests: 3,
      exitCode: 3,
    };
  }

  async function streamed(r: ReconcileReport, highWaterMark?: number): Promise<string> {
    const out = new PassThrough({ highWaterMark });
    const parts: Buffer[] = [];
    out.on('data', (b: Buffer) => parts.push(b));
    await writeReconcileJson(out, r);
    out.end();
    return Buffer.concat(parts).toString('utf8');
  }

  it.each([
    ['no items', []],
    ['one item', [full(1, 'credited')]],
    ['every status, null fields included', STATUSES.flatMap((s, i) => [full(i, s), bare(i, s)])],
  ])('writes exactly the bytes JSON.stringify wrote for the whole document (%s)', async (_, decisions) => {
    const r = report(decisions);
    const whole = `${JSON.stringify({ ...reconcileJsonHead(r), items: decisions.map(jsonItem) }, null, 2)}\n`;
    expect(await streamed(r)).toBe(whole);
  });

  it('writes a large run in several chunks, waiting for the stream to drain, with the same bytes', async () => {
    const decisions = Array.from({ length: 3000 }, (_, i) => full(i, STATUSES[i % STATUSES.length]!));
    const r = report(decisions);
    const whole = `${JSON.stringify({ ...reconcileJsonHead(r), items: decisions.map(jsonItem) }, null, 2)}\n`;
    expect(whole.length).toBeGreaterThan(1024 * 1024);
    const out = await streamed(r, 1024);
    expect(out).toBe(whole);
    expect(JSON.parse(out).items).toHaveLength(3000);
  });
});
