import type { Payment, PaymentIntentSnapshot, SessionSnapshot, StandalonePolicy, Window } from './types.js';

/** Sessions are listed from this long before the window: a session can be paid up to 24h after it was created. */
export const SESSION_LOOKBACK_SECONDS = 24 * 3600;

export function inWindow(t: number, w: Window): boolean {
  return t >= w.since && t < w.until;
}

/**
 * The payment a complete Checkout Session stands for, or null when it is not one (SPEC "Which
 * Stripe objects are payments"). Subscription and setup sessions are returned (they are reported as
 * skipped); a pending session (unpaid, PaymentIntent processing) is returned; an unpaid session
 * whose PaymentIntent failed or was canceled is not.
 */
export function sessionPayment(session: SessionSnapshot, pi: PaymentIntentSnapshot | null): Payment | null {
  if (session.status !== 'complete') return null;
  if (session.mode === 'payment') {
    const ps = session.paymentStatus;
    if (ps === 'unpaid') {
      if (!pi || pi.status !== 'processing') return null;
    } else if (ps !== 'paid' && ps !== 'no_payment_required') {
      return null;
    }
  }
  const paymentIntent = pi && pi.id === session.paymentIntentId ? pi : null;
  return {
    paymentKey: session.paymentIntentId ?? session.id,
    session,
    paymentIntent,
    paidAt: paymentIntent?.created ?? session.created,
    paysInvoice: false,
  };
}

/** Whether a standalone PaymentIntent counts as a payment under `match.standalonePaymentIntents`. */
export function standaloneCounts(
  pi: PaymentIntentSnapshot,
  policy: StandalonePolicy,
  creditsKey: string,
  userIdKeys: readonly string[],
): boolean {
  if (pi.status !== 'succeeded') return false;
  if (policy === 'none') return false;
  if (policy === 'all') return true;
  return hasKey(pi.metadata, creditsKey) || userIdKeys.some((k) => hasKey(pi.metadata, k));
}

function hasKey(metadata: Record<string, string>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(metadata, key);
}

export function standalonePayment(pi: PaymentIntentSnapshot, paysInvoice: boolean): Payment {
  return { paymentKey: pi.id, session: null, paymentIntent: pi, paidAt: pi.created, paysInvoice };
}

/** A session as listed, with its PaymentIntent expanded (null when it has none). */
export interface SessionWithIntent {
  session: SessionSnapshot;
  paymentIntent: PaymentIntentSnapshot | null;
}

export interface Selection {
  /** Payments of sessions listed in [since - 24h, until) that were paid inside the window. */
  sessionPayments: Payment[];
  /**
   * PaymentIntents in the window that belong to no listed session and pass the standalone policy.
   * The adapter still has to ask Stripe whether each pays an invoice or belongs to a session
   * that was not listed, before turning it into a payment.
   */
  standaloneCandidates: PaymentIntentSnapshot[];
}

/**
 * Splits what was listed from Stripe into payments. A PaymentIntent that belongs to a listed
 * session is that session's payment (never a second one), whatever the session's own `created`.
 */
export function selectPayments(
  sessions: readonly SessionWithIntent[],
  paymentIntents: readonly PaymentIntentSnapshot[],
  window: Window,
  rules: { standalone: StandalonePolicy; creditsKey: string; userIdKeys: readonly string[] },
): Selection {
  const sessionPiIds = new Set<string>();
  const sessionPayments: Payment[] = [];
  const seen = new Set<string>();
  for (const { session: s, paymentIntent: pi } of sessions) {
    if (s.paymentIntentId) sessionPiIds.add(s.paymentIntentId);
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    const p = sessionPayment(s, pi);
    if (p && inWindow(p.paidAt, window)) sessionPayments.push(p);
  }
  const standaloneCandidates = paymentIntents.filter(
    (pi) =>
      !sessionPiIds.has(pi.id) &&
      inWindow(pi.created, window) &&
      standaloneCounts(pi, rules.standalone, rules.creditsKey, rules.userIdKeys),
  );
  return { sessionPayments, standaloneCandidates };
}
