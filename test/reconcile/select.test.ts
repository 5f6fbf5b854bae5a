import { describe, expect, it } from 'vitest';
import {
  SESSION_LOOKBACK_SECONDS,
  inWindow,
  selectPayments,
  sessionPayment,
  standaloneCounts,
  standalonePayment,
  type SessionWithIntent,
} from '../../src/reconcile/select.js';
import type { PaymentIntentSnapshot, SessionSnapshot, StandalonePolicy, Window } from '../../src/reconcile/types.js';
import { HOUR, T0, intent, session } from './builders.js';

const W: Window = { since: T0, until: T0 + 10 * HOUR };
const defaults = { standalone: 'with_metadata' as StandalonePolicy, creditsKey: 'credits', userIdKeys: ['user_id'] };

function listed(s: Partial<SessionSnapshot>, pi: Partial<PaymentIntentSnapshot> | null = {}): SessionWithIntent {
  const paymentIntent = pi === null ? null : intent({ id: s.paymentIntentId ?? 'pi_1', ...pi });
  return { session: session({ ...s, paymentIntentId: paymentIntent?.id ?? null }), paymentIntent };
}

describe('inWindow: since inclusive, until exclusive', () => {
  it.each([
    [W.since - 1, false],
    [W.since, true],
    [W.since + 1, true],
    [W.until - 1, true],
    [W.until, false],
    [W.until + 1, false],
  ])('t=%i -> %s', (t, expected) => {
    expect(inWindow(t, W)).toBe(expected);
  });
});

it('lists sessions from 24 hours before the window', () => {
  expect(SESSION_LOOKBACK_SECONDS).toBe(24 * HOUR);
});

describe('sessionPayment: which sessions are payments', () => {
  it.each<[string, Partial<SessionSnapshot>, Partial<PaymentIntentSnapshot> | null, boolean]>([
    ['complete, payment, paid', {}, {}, true],
    ['complete, payment, no_payment_required, no PI', { paymentStatus: 'no_payment_required' }, null, true],
    ['complete, unpaid, PI processing (pending)', { paymentStatus: 'unpaid' }, { status: 'processing' }, true],
    [
      'complete, unpaid, PI failed (requires_payment_method)',
      { paymentStatus: 'unpaid' },
      { status: 'requires_payment_method' },
      false,
    ],
    ['complete, unpaid, PI canceled', { paymentStatus: 'unpaid' }, { status: 'canceled' }, false],
    ['complete, unpaid, no PI', { paymentStatus: 'unpaid' }, null, false],
    ['open', { status: 'open', paymentStatus: 'unpaid' }, { status: 'processing' }, false],
    ['open and paid', { status: 'open' }, {}, false],
    ['expired', { status: 'expired', paymentStatus: 'unpaid' }, { status: 'canceled' }, false],
    ['unknown payment_status', { paymentStatus: 'weird' }, {}, false],
    ['subscription (kept, reported as skipped)', { mode: 'subscription' }, null, true],
    ['setup (kept, reported as skipped)', { mode: 'setup', paymentStatus: 'no_payment_required' }, null, true],
    ['subscription not complete', { mode: 'subscription', status: 'open' }, null, false],
  ])('%s -> payment: %s', (_name, s, pi, isPayment) => {
    const { session: sess, paymentIntent } = listed(s, pi);
    const p = sessionPayment(sess, paymentIntent);
    expect(p !== null).toBe(isPayment);
  });

  it('keys by the PaymentIntent and dates by its created when it has one', () => {
    const { session: s, paymentIntent } = listed(
      { id: 'cs_a', created: T0, paymentIntentId: 'pi_a' },
      { created: T0 + 5 * HOUR },
    );
    expect(sessionPayment(s, paymentIntent)).toEqual({
      paymentKey: 'pi_a',
      session: s,
      paymentIntent,
      paidAt: T0 + 5 * HOUR,
      paysInvoice: false,
    });
  });

  it('keys by the session id and dates by its created without a PaymentIntent', () => {
    const { session: s } = listed({ id: 'cs_free', created: T0 + 7, paymentStatus: 'no_payment_required' }, null);
    expect(sessionPayment(s, null)).toMatchObject({ paymentKey: 'cs_free', paymentIntent: null, paidAt: T0 + 7 });
  });
});

describe('standaloneCounts: match.standalonePaymentIntents', () => {
  it.each<[StandalonePolicy, Record<string, string>, string, boolean]>([
    ['with_metadata', { credits: '10' }, 'succeeded', true],
    ['with_metadata', { user_id: '42' }, 'succeeded', true],
    ['with_metadata', { other: 'x' }, 'succeeded', false],
    ['with_metadata', {}, 'succeeded', false],
    ['with_metadata', { user_email: 'a@x.io' }, 'succeeded', false],
    ['with_metadata', { credits: '10' }, 'processing', false],
    ['all', {}, 'succeeded', true],
    ['all', {}, 'processing', false],
    ['all', {}, 'canceled', false],
    ['all', {}, 'requires_payment_method', false],
    ['none', { credits: '10', user_id: '42' }, 'succeeded', false],
  ])('%s, metadata %j, status %s -> %s', (policy, metadata, status, expected) => {
    expect(standaloneCounts(intent({ metadata, status }), policy, 'credits', ['user_id'])).toBe(expected);
  });

  it('uses the configured credits key and userIdKeys', () => {
    expect(standaloneCounts(intent({ metadata: { pack: '5' } }), 'with_metadata', 'pack', [])).toBe(true);
    expect(standaloneCounts(intent({ metadata: { uid: '1' } }), 'with_metadata', 'credits', ['account', 'uid'])).toBe(
      true,
    );
    expect(standaloneCounts(intent({ metadata: { user_id: '1' } }), 'with_metadata', 'credits', ['uid'])).toBe(false);
  });

  it('standalonePayment keys and dates by the PaymentIntent', () => {
    const pi = intent({ id: 'pi_s', created: T0 + 3 });
    expect(standalonePayment(pi, true)).toEqual({
      paymentKey: 'pi_s',
      session: null,
      paymentIntent: pi,
      paidAt: T0 + 3,
      paysInvoice: true,
    });
  });
});

describe('selectPayments: the window', () => {
  it.each<[string, Partial<SessionSnapshot>, Partial<PaymentIntentSnapshot> | null, boolean]>([
    ['session and PI inside', { created: T0 + HOUR }, { created: T0 + HOUR }, true],
    ['PI created exactly at since', { created: T0 - HOUR }, { created: W.since }, true],
    ['PI created just before until', { created: W.until - 10 }, { created: W.until - 1 }, true],
    ['session created 20h before the window, PI in it', { created: T0 - 20 * HOUR }, { created: T0 + 2 * HOUR }, true],
    ['session in the window, PI created at until', { created: T0 + HOUR }, { created: W.until }, false],
    ['session in the window, PI created after until', { created: T0 + HOUR }, { created: W.until + HOUR }, false],
    ['session in the window, PI created before since', { created: T0 + HOUR }, { created: T0 - 1 }, false],
    ['no PI: session created in the window', { created: T0, paymentStatus: 'no_payment_required' }, null, true],
    ['no PI: session created at until', { created: W.until, paymentStatus: 'no_payment_required' }, null, false],
    ['no PI: session created before since', { created: T0 - 1, paymentStatus: 'no_payment_required' }, null, false],
  ])('%s -> selected: %s', (_name, s, pi, selected) => {
    const { sessionPayments, standaloneCandidates } = selectPayments([listed(s, pi)], [], W, defaults);
    expect(sessionPayments.length).toBe(selected ? 1 : 0);
    expect(standaloneCandidates).toEqual([]);
  });

  it('drops sessions that are not payments (unpaid with a failed/canceled PI, not complete)', () => {
    const sessions = [
      listed({ id: 'cs_ok', paymentIntentId: 'pi_ok' }),
      listed({ id: 'cs_pending', paymentIntentId: 'pi_pending', paymentStatus: 'unpaid' }, { status: 'processing' }),
      listed(
        { id: 'cs_failed', paymentIntentId: 'pi_failed', paymentStatus: 'unpaid' },
        { status: 'requires_payment_method' },
      ),
      listed({ id: 'cs_canceled', paymentIntentId: 'pi_canceled', paymentStatus: 'unpaid' }, { status: 'canceled' }),
      listed(
        { id: 'cs_open', paymentIntentId: 'pi_open', status: 'open', paymentStatus: 'unpaid' },
        { status: 'requires_payment_method' },
      ),
      listed({ id: 'cs_expired', status: 'expired', paymentStatus: 'unpaid' }, null),
    ];
    const { sessionPayments } = selectPayments(sessions, [], W, defaults);
    expect(sessionPayments.map((p) => p.paymentKey)).toEqual(['pi_ok', 'pi_pending']);
  });

  it('decides a session listed twice once', () => {
    const s = listed({ id: 'cs_dup', paymentIntentId: 'pi_dup' });
    const { sessionPayments } = selectPayments([s, s], [], W, defaults);
    expect(sessionPayments.map((p) => p.paymentKey)).toEqual(['pi_dup']);
  });
});

describe('selectPayments: standalone PaymentIntents', () => {
  it('never makes a PI of a listed session a standalone candidate, whatever the session', () => {
    const sessions = [
      listed({ id: 'cs_in', paymentIntentId: 'pi_in' }, { metadata: { credits: '10' } }),
      // session before the lookback-visible window: not selected itself, but still owns its PI
      listed({ id: 'cs_old', created: T0 - 20 * HOUR, paymentIntentId: 'pi_old' }, { created: T0 + 20 * HOUR }),
      // session that is not a payment still owns its PI
      listed({ id: 'cs_unpaid', paymentIntentId: 'pi_unpaid', paymentStatus: 'unpaid' }, { status: 'canceled' }),
      // PaymentIntent not expanded on the listed session
      { session: session({ id: 'cs_noexp', paymentIntentId: 'pi_noexp' }), paymentIntent: null },
    ];
    const pis = ['pi_in', 'pi_old', 'pi_unpaid', 'pi_noexp'].map((id) =>
      intent({ id, created: T0 + HOUR, metadata: { credits: '10', user_id: '1' } }),
    );
    const { standaloneCandidates } = selectPayments(sessions, pis, W, { ...defaults, standalone: 'all' });
    expect(standaloneCandidates).toEqual([]);
  });

  const pis = [
    intent({ id: 'pi_credits', metadata: { credits: '10' } }),
    intent({ id: 'pi_user', metadata: { user_id: '42' } }),
    intent({ id: 'pi_bare', metadata: {} }),
    intent({ id: 'pi_other', metadata: { order: '9' } }),
    intent({ id: 'pi_processing', status: 'processing', metadata: { credits: '10' } }),
    intent({ id: 'pi_canceled', status: 'canceled', metadata: {} }),
    intent({ id: 'pi_before', created: W.since - 1, metadata: { credits: '10' } }),
    intent({ id: 'pi_at_until', created: W.until, metadata: { credits: '10' } }),
    intent({ id: 'pi_at_since', created: W.since, metadata: { credits: '10' } }),
  ];

  it.each<[StandalonePolicy, string[]]>([
    ['with_metadata', ['pi_credits', 'pi_user', 'pi_at_since']],
    ['all', ['pi_credits', 'pi_user', 'pi_bare', 'pi_other', 'pi_at_since']],
    ['none', []],
  ])('policy %s -> %j', (standalone, expected) => {
    const { sessionPayments, standaloneCandidates } = selectPayments([], pis, W, { ...defaults, standalone });
    expect(sessionPayments).toEqual([]);
    expect(standaloneCandidates.map((p) => p.id)).toEqual(expected);
  });

  it('keeps session payments and standalone candidates apart', () => {
    const { sessionPayments, standaloneCandidates } = selectPayments(
      [listed({ id: 'cs_a', paymentIntentId: 'pi_a' })],
      [intent({ id: 'pi_a', metadata: { credits: '1' } }), intent({ id: 'pi_b', metadata: { credits: '1' } })],
      W,
      defaults,
    );
    expect(sessionPayments.map((p) => p.paymentKey)).toEqual(['pi_a']);
    expect(standaloneCandidates.map((p) => p.id)).toEqual(['pi_b']);
  });
});
