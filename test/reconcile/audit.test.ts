import { describe, expect, it } from 'vitest';
import { auditCounts, auditEntry, type AuditContext } from '../../src/reconcile/audit.js';
import type {
  AuditCode,
  AuditEntry,
  AuditFinding,
  AuditInput,
  Payment,
  StripeLookup,
} from '../../src/reconcile/types.js';
import { T0, checkout, directory, rules, standalone, type RulesOverrides, type TestUser } from './builders.js';

/** SPEC "Audit": one purchase entry of the ledger against what Stripe says of its payment. */

const CS = 'cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ';
const PI = 'pi_3MtwBwLkdIwHu7ix28a3tqPa';

const USERS: TestUser[] = [
  { id: '1', email: 'alice@example.com', stripeCustomerId: 'cus_NffrFeUfNV2Hib' },
  { id: '2', email: 'bob@example.com', stripeCustomerId: 'cus_OgqsGfVgOW3Ijc' },
];

function entry(o: Partial<AuditEntry> = {}): AuditEntry {
  return {
    entryId: '11',
    userId: '1',
    credits: 100,
    paymentRef: PI,
    byPerson: false,
    livemode: false,
    createdAt: T0 + 60,
    ...o,
  };
}

/** The object Stripe returns for a payment built with the core's builders. */
function found(p: Payment): StripeLookup {
  return { found: 'object', session: p.session, paymentIntent: p.paymentIntent, paysInvoice: p.paysInvoice };
}

/** A paid session for user 1 with 100 credits in its metadata: an entry of user 1, 100 credits, is backed. */
const GOOD = checkout({ id: CS, clientReferenceId: '1', metadata: { credits: '100' } }, { id: PI });

function input(o: Partial<AuditInput> = {}): AuditInput {
  return { entry: entry(), stripe: found(GOOD), samePayment: [], refunds: [], disputes: [], reversals: [], ...o };
}

function ctx(o: { rules?: RulesOverrides; livemode?: boolean; customerColumn?: boolean } = {}): AuditContext {
  return {
    rules: rules(o.rules),
    users: directory(USERS),
    customerColumn: o.customerColumn ?? true,
    livemode: o.livemode ?? false,
  };
}

type Short = [code: AuditCode, expected: AuditFinding['expected']];

function audit(i: Partial<AuditInput>, c: Parameters<typeof ctx>[0] = {}): Short[] {
  const fs = auditEntry(input(i), ctx(c));
  for (const f of fs) {
    // every finding names its entry as the ledger holds it, and says why in words
    expect(f).toMatchObject({ entryId: i.entry?.entryId ?? '11', paymentRef: i.entry?.paymentRef ?? PI });
    expect(f.detail).toMatch(/\S/);
  }
  return fs.map((f) => [f.code, f.expected]);
}

const NONE = { userId: null, credits: 0 };
const PERSON = entry({ byPerson: true, userId: '2', credits: 7 });

describe('audit: one entry', () => {
  it.each<[string, Partial<AuditInput>, Parameters<typeof ctx>[0], Short[]]>([
    ['backed: the payment, the user and the credits agree', {}, {}, []],
    ['backed when the entry names the session id', { entry: entry({ paymentRef: CS }) }, {}, []],
    ['not_found', { stripe: { found: 'none' } }, {}, [['not_found', NONE]]],
    [
      'other_mode: Stripe says it exists in the other mode',
      { stripe: { found: 'other_mode' } },
      {},
      [['other_mode', NONE]],
    ],
    [
      'other_mode: a cs_test_ id that a live key does not find',
      { entry: entry({ paymentRef: CS, livemode: null }), stripe: { found: 'none' } },
      { livemode: true },
      [['other_mode', NONE]],
    ],
    [
      'other_mode: a test payment in a live ledger',
      { entry: entry({ livemode: null }) },
      { livemode: true },
      [['other_mode', NONE]],
    ],
    [
      'other_mode: the entry was written in the other mode',
      { entry: entry({ livemode: true }) },
      {},
      [['other_mode', NONE]],
    ],
    [
      'not_paid: an expired session',
      { stripe: found({ ...GOOD, session: { ...GOOD.session!, status: 'expired', paymentStatus: 'unpaid' } }) },
      {},
      [['not_paid', NONE]],
    ],
    [
      'not_paid: a session whose PaymentIntent failed',
      {
        stripe: found(
          checkout(
            { id: CS, clientReferenceId: '1', paymentStatus: 'unpaid' },
            { id: PI, status: 'requires_payment_method' },
          ),
        ),
      },
      {},
      [['not_paid', NONE]],
    ],
    [
      'not_paid: a session still processing',
      {
        stripe: found(
          checkout({ id: CS, clientReferenceId: '1', paymentStatus: 'unpaid' }, { id: PI, status: 'processing' }),
        ),
      },
      {},
      [['not_paid', NONE]],
    ],
    [
      'not_paid: a canceled standalone PaymentIntent',
      { stripe: found(standalone({ id: PI, status: 'canceled', metadata: { user_id: '1', credits: '100' } })) },
      {},
      [['not_paid', NONE]],
    ],
    [
      'not_a_credit_purchase: a subscription session',
      {
        entry: entry({ paymentRef: CS }),
        stripe: found(checkout({ id: CS, mode: 'subscription', clientReferenceId: '1' }, null)),
      },
      {},
      [['not_a_credit_purchase', NONE]],
    ],
    [
      'not_a_credit_purchase: a PaymentIntent that pays an invoice',
      { stripe: found(standalone({ id: PI, metadata: { user_id: '1', credits: '100' } }, true)) },
      {},
      [['not_a_credit_purchase', NONE]],
    ],
    [
      'wrong_user: the id on the payment names another user',
      { entry: entry({ userId: '2' }) },
      {},
      [['wrong_user', { userId: '1', credits: 100 }]],
    ],
    [
      'wrong_user: by Stripe customer',
      {
        entry: entry({ userId: '2' }),
        stripe: found(checkout({ id: CS, customerId: 'cus_NffrFeUfNV2Hib', metadata: { credits: '100' } }, { id: PI })),
      },
      {},
      [['wrong_user', { userId: '1', credits: 100 }]],
    ],
    [
      'not wrong_user by email alone (SPEC: by id or customer)',
      {
        entry: entry({ userId: '2' }),
        stripe: found(
          checkout({ id: CS, customerEmail: 'alice@example.com', metadata: { credits: '100' } }, { id: PI }),
        ),
      },
      {},
      [],
    ],
    [
      'not wrong_user when the chain finds nobody',
      { entry: entry({ userId: '2' }), stripe: found(checkout({ id: CS, metadata: { credits: '100' } }, { id: PI })) },
      {},
      [],
    ],
    [
      'amount_differs: other credits than the rules give',
      { entry: entry({ credits: 1000 }) },
      {},
      [['amount_differs', { userId: '1', credits: 100 }]],
    ],
    [
      'amount_differs by the amount rule',
      { stripe: found(checkout({ id: CS, clientReferenceId: '1' }, { id: PI })) },
      { rules: { credits: { unitAmountPerCredit: { usd: 5 } } } },
      [['amount_differs', { userId: '1', credits: 200 }]],
    ],
    [
      'no amount_differs when no rule applies',
      { stripe: found(checkout({ id: CS, clientReferenceId: '1' }, { id: PI })) },
      {},
      [],
    ],
    [
      'wrong_user and amount_differs together, each with the same expected',
      { entry: entry({ userId: '2', credits: 5 }) },
      {},
      [
        ['wrong_user', { userId: '1', credits: 100 }],
        ['amount_differs', { userId: '1', credits: 100 }],
      ],
    ],
    [
      'refunded, no reversal: what is still to take back',
      { refunds: [{ id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 250, status: 'succeeded', created: T0 + 120 }] },
      {},
      [['refunded', { userId: '1', credits: 75 }]],
    ],
    [
      'fully refunded (even before it was credited), no reversal: backed by nothing',
      {
        stripe: found(
          checkout(
            { id: CS, clientReferenceId: '1', metadata: { credits: '100' } },
            { id: PI, refunded: true, amountRefunded: 1000 },
          ),
        ),
        refunds: [{ id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 1000, status: 'succeeded', created: T0 + 30 }],
      },
      {},
      [['refunded', { userId: '1', credits: 0 }]],
    ],
    [
      'refunded and reversed: backed',
      {
        refunds: [{ id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 250, status: 'succeeded', created: T0 + 120 }],
        reversals: [{ kind: 'reversal', id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', credits: -25 }],
      },
      {},
      [],
    ],
    [
      'a pending or failed refund is no finding',
      {
        refunds: [
          { id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 250, status: 'pending', created: T0 + 120 },
          { id: 're_3MtwBwLkdIwHu7ix1bGhIjKl', amount: 250, status: 'failed', created: T0 + 130 },
        ],
      },
      {},
      [],
    ],
    [
      'disputed after a reversed partial refund: the rest',
      {
        refunds: [{ id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 250, status: 'succeeded', created: T0 + 120 }],
        disputes: [{ id: 'dp_1MtwBwLkdIwHu7ixQ9rStUvW', amount: 750, status: 'lost', created: T0 + 180 }],
        reversals: [{ kind: 'reversal', id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', credits: -25 }],
      },
      {},
      [['disputed', { userId: '1', credits: 0 }]],
    ],
    [
      'a dispute won is no finding',
      { disputes: [{ id: 'dp_1MtwBwLkdIwHu7ixQ9rStUvW', amount: 1000, status: 'won', created: T0 + 180 }] },
      {},
      [],
    ],
    [
      'duplicate: a later entry for the same payment under its session id',
      {
        entry: entry({ entryId: '12', paymentRef: CS, createdAt: T0 + 90 }),
        samePayment: [{ entryId: '11', paymentRef: PI, createdAt: T0 + 60 }],
      },
      {},
      [['duplicate', { userId: '1', credits: 0 }]],
    ],
    [
      'the first of two entries is checked as the payment’s entry, not a duplicate',
      { samePayment: [{ entryId: '12', paymentRef: CS, createdAt: T0 + 90 }] },
      {},
      [],
    ],
    [
      'same time: the lower entry id is the first',
      {
        entry: entry({ entryId: '12', paymentRef: CS }),
        samePayment: [{ entryId: '11', paymentRef: PI, createdAt: T0 + 60 }],
      },
      {},
      [['duplicate', { userId: '1', credits: 0 }]],
    ],
    [
      'entries of other payments are not duplicates',
      { samePayment: [{ entryId: '9', paymentRef: 'pi_3NxxCwLkdIwHu7ix0zzzzzzz', createdAt: T0 }] },
      {},
      [],
    ],
    [
      'duplicate of an entry Stripe does not know: the same ref twice',
      {
        entry: entry({ entryId: '12' }),
        stripe: { found: 'none' },
        samePayment: [{ entryId: '11', paymentRef: PI, createdAt: T0 }],
      },
      {},
      [
        ['duplicate', { userId: '1', credits: 0 }],
        ['not_found', NONE],
      ],
    ],
    ['a person’s entry: other user and credits are theirs to give', { entry: PERSON }, {}, []],
    [
      'a person’s entry on a refunded, unpaid or subscription payment: not checked',
      {
        entry: PERSON,
        stripe: found(checkout({ id: CS, mode: 'subscription' }, null)),
        refunds: [{ id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 1000, status: 'succeeded', created: T0 + 120 }],
      },
      {},
      [],
    ],
    ['a person’s entry: not_found still', { entry: PERSON, stripe: { found: 'none' } }, {}, [['not_found', NONE]]],
    ['a person’s entry: other_mode still', { entry: PERSON }, { livemode: true }, [['other_mode', NONE]]],
    [
      'a person’s entry: duplicate still',
      {
        entry: { ...PERSON, entryId: '12', createdAt: T0 + 90 },
        samePayment: [{ entryId: '11', paymentRef: PI, createdAt: T0 + 60 }],
      },
      {},
      [['duplicate', { userId: '2', credits: 0 }]],
    ],
  ])('%s', (_name, i, c, expected) => {
    expect(audit(i, c)).toEqual(expected);
  });

  it('a finding is SPEC’s item: entry, user, credits, ref, code, detail, expected', () => {
    const [f] = auditEntry(input({ entry: entry({ userId: '2' }) }), ctx());
    expect(f).toEqual({
      entryId: '11',
      userId: '2',
      credits: 100,
      paymentRef: PI,
      code: 'wrong_user',
      detail: "the payment's client_reference_id names user 1, not 2",
      expected: { userId: '1', credits: 100 },
    });
  });

  it('a refund share a person dismissed in review is no finding', () => {
    const refunds = [
      { id: 're_3MtwBwLkdIwHu7ix1aAbCdEf', amount: 250, status: 'succeeded' as const, created: T0 + 120 },
    ];
    expect(auditEntry(input({ refunds }), ctx())).toHaveLength(1);
    expect(auditEntry(input({ refunds }), { ...ctx(), isDismissed: (id) => id === refunds[0]!.id })).toEqual([]);
  });
});

describe('audit counts', () => {
  it('entries, those with no finding (backed), and findings', () => {
    const one = auditEntry(input({ entry: entry({ userId: '2', credits: 5 }) }), ctx());
    expect(auditCounts([[], one, []])).toEqual({ entries: 3, backed: 2, findings: 2 });
  });
});
