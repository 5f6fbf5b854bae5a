import { describe, expect, it } from 'vitest';
import {
  customerOf,
  emailCandidates,
  idCandidates,
  matchUser,
  normaliseEmail,
  type MatchResult,
} from '../../src/reconcile/match.js';
import type { MatchConfig, Payment } from '../../src/reconcile/types.js';
import { checkout, directory, matchConfig, standalone, type TestUser } from './builders.js';

const USERS: TestUser[] = [
  { id: '1', email: 'alice@example.com', stripeCustomerId: 'cus_alice' },
  { id: '2', email: 'Bob@Example.com ', stripeCustomerId: 'cus_bob' },
  { id: '3', email: 'shared@example.com', stripeCustomerId: 'cus_shared' },
  { id: '4', email: 'SHARED@example.com', stripeCustomerId: 'cus_shared' },
  { id: '5', email: null },
  { id: 'Carol Jones', email: 'carol.jones@example.com' },
];
const users = directory(USERS);

function match(p: Payment, cfg: Partial<MatchConfig> = {}, customerColumn = true): MatchResult {
  return matchUser(p, users, matchConfig(cfg), customerColumn);
}

function ok(userId: string, matchedBy: string, unknownIds: string[] = []) {
  return { ok: true, user: expect.objectContaining({ id: userId }), matchedBy, unknownIds };
}
function review(reason: string, candidateUserIds: string[] = [], unknownIds: string[] = []) {
  return { ok: false, reason, candidateUserIds, unknownIds };
}

describe('the in-memory directory', () => {
  it('matches ids exactly, emails trimmed and case-insensitively', () => {
    expect(users.byId('1')).toEqual({ id: '1', email: 'alice@example.com' });
    expect(users.byId('01')).toBeUndefined();
    expect(users.byEmail('bob@example.com').map((u) => u.id)).toEqual(['2']);
    expect(users.byEmail(' ALICE@example.com ').map((u) => u.id)).toEqual(['1']);
    expect(users.byEmail('shared@example.com').map((u) => u.id)).toEqual(['3', '4']);
    expect(users.byCustomer('cus_shared').map((u) => u.id)).toEqual(['3', '4']);
    expect(users.byCustomer('cus_none')).toEqual([]);
  });
});

describe('step 1: ids', () => {
  it.each<[string, Payment, Partial<MatchConfig>, object]>([
    ['client_reference_id', checkout({ clientReferenceId: '1' }), {}, ok('1', 'client_reference_id')],
    [
      'client_reference_id is exact text: spaces are part of it',
      checkout({ clientReferenceId: ' 1 ' }),
      { byEmail: false },
      review('no_user', [], [' 1 ']),
    ],
    ['session metadata user_id', checkout({ metadata: { user_id: '2' } }), {}, ok('2', 'metadata.user_id')],
    ['PaymentIntent metadata user_id', checkout({}, { metadata: { user_id: '2' } }), {}, ok('2', 'metadata.user_id')],
    ['standalone PaymentIntent metadata', standalone({ metadata: { user_id: '2' } }), {}, ok('2', 'metadata.user_id')],
    [
      'client_reference_id decides matchedBy when all ids agree',
      checkout({ clientReferenceId: '1', metadata: { user_id: '1' } }, { metadata: { user_id: '1' } }),
      {},
      ok('1', 'client_reference_id'),
    ],
    [
      'configured userIdKeys, in order',
      checkout({ metadata: { account: '2', uid: '2', user_id: '1' } }),
      { userIdKeys: ['uid', 'account'] },
      ok('2', 'metadata.uid'),
    ],
    [
      'a key not in userIdKeys is ignored',
      checkout({ metadata: { user_id: '1' } }),
      { userIdKeys: ['uid'], byEmail: false },
      review('no_user'),
    ],
    [
      'unknown client_reference_id passed over, metadata decides',
      checkout({ clientReferenceId: 'ghost', metadata: { user_id: '2' } }),
      {},
      ok('2', 'metadata.user_id', ['ghost']),
    ],
    [
      'unknown session id passed over, PaymentIntent metadata decides',
      checkout({ metadata: { user_id: 'ghost' } }, { metadata: { user_id: '1' } }),
      {},
      ok('1', 'metadata.user_id', ['ghost']),
    ],
    [
      'unknown ids recorded once each, chain goes on to email',
      checkout(
        { clientReferenceId: 'ghost', metadata: { user_id: 'ghost' }, customerEmail: 'alice@example.com' },
        { metadata: { user_id: 'x9' } },
      ),
      {},
      ok('1', 'email', ['ghost', 'x9']),
    ],
    ['unknown ids recorded on no_user', checkout({ clientReferenceId: 'ghost' }), {}, review('no_user', [], ['ghost'])],
    [
      'client_reference_id and metadata resolve to different users',
      checkout({ clientReferenceId: '1', metadata: { user_id: '2' } }),
      {},
      review('conflicting_ids', ['1', '2']),
    ],
    [
      'session and PaymentIntent metadata resolve to different users',
      checkout({ metadata: { user_id: '2' } }, { metadata: { user_id: '1' } }),
      {},
      review('conflicting_ids', ['2', '1']),
    ],
    [
      'conflict keeps unknown ids',
      checkout({ clientReferenceId: '1', metadata: { user_id: 'ghost' } }, { metadata: { user_id: '2' } }),
      {},
      review('conflicting_ids', ['1', '2'], ['ghost']),
    ],
    [
      'ids beat customer and email, even when those point elsewhere',
      checkout({ clientReferenceId: '1', customerId: 'cus_bob', customerEmail: 'bob@example.com' }),
      {},
      ok('1', 'client_reference_id'),
    ],
    [
      'blank ids are ignored',
      checkout({ clientReferenceId: '  ', metadata: { user_id: '' } }),
      { byEmail: false },
      review('no_user'),
    ],
  ])('%s', (_name, p, cfg, expected) => {
    expect(match(p, cfg)).toEqual(expected);
  });
});

describe('step 2: Stripe customer', () => {
  it.each<[string, Payment, boolean, object]>([
    ['session customer', checkout({ customerId: 'cus_alice' }), true, ok('1', 'customer')],
    ['PaymentIntent customer', checkout({}, { customerId: 'cus_bob' }), true, ok('2', 'customer')],
    ['standalone customer', standalone({ customerId: 'cus_bob' }), true, ok('2', 'customer')],
    ['not configured: column ignored', checkout({ customerId: 'cus_alice' }), false, review('no_user')],
    [
      'not configured: falls to email',
      checkout({ customerId: 'cus_alice', customerEmail: 'bob@example.com' }),
      false,
      ok('2', 'email'),
    ],
    [
      'several users for one customer',
      checkout({ customerId: 'cus_shared' }),
      true,
      review('ambiguous_customer', ['3', '4']),
    ],
    [
      'ambiguous customer stops the chain before email',
      checkout({ customerId: 'cus_shared', customerEmail: 'alice@example.com' }),
      true,
      review('ambiguous_customer', ['3', '4']),
    ],
    [
      'unknown customer falls to email',
      checkout({ customerId: 'cus_none', customerEmail: 'alice@example.com' }),
      true,
      ok('1', 'email'),
    ],
    [
      'customer beats email',
      checkout({ customerId: 'cus_alice', customerEmail: 'bob@example.com' }),
      true,
      ok('1', 'customer'),
    ],
    [
      'unknown id then customer',
      checkout({ clientReferenceId: 'ghost', customerId: 'cus_alice' }),
      true,
      ok('1', 'customer', ['ghost']),
    ],
  ])('%s', (_name, p, customerColumn, expected) => {
    expect(match(p, {}, customerColumn)).toEqual(expected);
  });
});

describe('step 3: email', () => {
  it.each<[string, Payment, Partial<MatchConfig>, object]>([
    [
      'metadata user_email on session',
      checkout({ metadata: { user_email: 'alice@example.com' } }),
      {},
      ok('1', 'email'),
    ],
    [
      'metadata user_email on PaymentIntent',
      checkout({}, { metadata: { user_email: 'alice@example.com' } }),
      {},
      ok('1', 'email'),
    ],
    ['customer_details.email', checkout({ customerDetailsEmail: 'alice@example.com' }), {}, ok('1', 'email')],
    ['customer_email', checkout({ customerEmail: 'alice@example.com' }), {}, ok('1', 'email')],
    ['receipt_email', checkout({}, { receiptEmail: 'alice@example.com' }), {}, ok('1', 'email')],
    ['standalone receipt_email', standalone({ receiptEmail: 'alice@example.com' }), {}, ok('1', 'email')],
    ['trimmed and case-insensitive', checkout({ customerEmail: '  ALICE@Example.COM\t' }), {}, ok('1', 'email')],
    ['user email stored untrimmed/mixed case', checkout({ customerEmail: 'bob@example.com' }), {}, ok('2', 'email')],
    [
      'configured emailKeys',
      checkout({ metadata: { contact: 'bob@example.com' } }),
      { emailKeys: ['contact'] },
      ok('2', 'email'),
    ],
    ['key not in emailKeys ignored', checkout({ metadata: { contact: 'bob@example.com' } }), {}, review('no_user')],
    [
      'several sources, same user',
      checkout(
        { metadata: { user_email: 'Alice@example.com' }, customerDetailsEmail: 'alice@example.com ' },
        { receiptEmail: 'ALICE@EXAMPLE.COM' },
      ),
      {},
      ok('1', 'email'),
    ],
    [
      'an email matching no user beside one that matches',
      checkout({ customerDetailsEmail: 'nobody@example.com', customerEmail: 'alice@example.com' }),
      {},
      ok('1', 'email'),
    ],
    [
      'one email, several users',
      checkout({ customerEmail: 'shared@example.com' }),
      {},
      review('ambiguous_email', ['3', '4']),
    ],
    [
      'different emails, different users',
      checkout({ customerDetailsEmail: 'alice@example.com' }, { receiptEmail: 'bob@example.com' }),
      {},
      review('conflicting_emails', ['1', '2']),
    ],
    [
      'ambiguous_email is checked before conflicting_emails',
      checkout({ customerDetailsEmail: 'alice@example.com', customerEmail: 'shared@example.com' }),
      {},
      review('ambiguous_email', ['3', '4']),
    ],
    [
      'ambiguous_email checked first even when the ambiguous email comes last',
      checkout(
        { metadata: { user_email: 'alice@example.com' }, customerDetailsEmail: 'bob@example.com' },
        { receiptEmail: 'shared@example.com' },
      ),
      {},
      review('ambiguous_email', ['3', '4']),
    ],
    [
      'byEmail false disables the email step',
      checkout({ customerEmail: 'alice@example.com' }),
      { byEmail: false },
      review('no_user'),
    ],
    [
      'byEmail false: no ambiguous_email either',
      checkout({ customerEmail: 'shared@example.com' }),
      { byEmail: false },
      review('no_user'),
    ],
    ['unknown email', checkout({ customerEmail: 'nobody@example.com' }), {}, review('no_user')],
    ['nothing at all', checkout({}), {}, review('no_user')],
  ])('%s', (_name, p, cfg, expected) => {
    expect(match(p, cfg)).toEqual(expected);
  });
});

describe('never by name', () => {
  it.each<[string, string]>([
    ["name equals a user's id", 'Carol Jones'],
    ["name equals a user's email", 'carol.jones@example.com'],
    ['name equals another user id', '1'],
  ])('%s -> no_user', (_name, customerName) => {
    expect(match(checkout({ customerName }))).toEqual(review('no_user'));
  });
});

describe('candidates', () => {
  it('idCandidates: client_reference_id, then userIdKeys on the session, then on the PaymentIntent', () => {
    const p = checkout(
      { clientReferenceId: 'c', metadata: { a: 's_a', b: 's_b', other: 'x' } },
      { metadata: { b: 'p_b', a: 'p_a' } },
    );
    expect(idCandidates(p, matchConfig({ userIdKeys: ['a', 'b'] }))).toEqual([
      { field: 'client_reference_id', value: 'c' },
      { field: 'metadata.a', value: 's_a' },
      { field: 'metadata.b', value: 's_b' },
      { field: 'metadata.a', value: 'p_a' },
      { field: 'metadata.b', value: 'p_b' },
    ]);
  });

  it('emailCandidates: emailKeys (session, PI), customer_details.email, customer_email, receipt_email; normalised, de-duplicated', () => {
    const p = checkout(
      {
        metadata: { user_email: ' S@X.io ' },
        customerDetailsEmail: 'D@x.io',
        customerEmail: 'c@x.io',
        customerName: 'n@x.io',
      },
      { metadata: { user_email: 'p@x.io' }, receiptEmail: 'd@X.IO' },
    );
    expect(emailCandidates(p, matchConfig())).toEqual(['s@x.io', 'p@x.io', 'd@x.io', 'c@x.io']);
  });

  it.each<[string | null | undefined, string | null]>([
    [' A@B.c ', 'a@b.c'],
    ['', null],
    ['   ', null],
    [null, null],
    [undefined, null],
  ])('normaliseEmail(%j) -> %j', (raw, expected) => {
    expect(normaliseEmail(raw)).toBe(expected);
  });

  it('customerOf: the session customer, else the PaymentIntent customer', () => {
    expect(customerOf(checkout({ customerId: 'cus_s' }, { customerId: 'cus_p' }))).toBe('cus_s');
    expect(customerOf(checkout({}, { customerId: 'cus_p' }))).toBe('cus_p');
    expect(customerOf(standalone({}))).toBeNull();
  });
});
