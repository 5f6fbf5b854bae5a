import { amountPaid, amountTooLow, computeCredits } from './credits.js';
import { customerOf, emailCandidates, matchUser } from './match.js';
import type { Payment, PaymentDecision, RulesConfig, UserDirectory } from './types.js';

export interface DecideContext {
  rules: RulesConfig;
  users: UserDirectory;
  /** The users table has a Stripe customer id column (`users.stripeCustomerId`). */
  customerColumn: boolean;
  /** The ledger already holds a purchase for this payment (by payment key, session id or PaymentIntent id). */
  isCredited(payment: Payment): boolean;
  /**
   * A person closed this payment's review entry without crediting it (`review dismiss`): reconcile
   * leaves it alone (skipped, `dismissed`), even if it could match it now. `assign` still can.
   */
  isDismissed?(payment: Payment): boolean;
  dryRun: boolean;
}

/** SPEC "One status per payment": exactly one status, the first rule that applies wins. */
export function decidePayment(payment: Payment, ctx: DecideContext): PaymentDecision {
  const { amount, currency } = amountPaid(payment);
  const base: PaymentDecision = {
    paymentKey: payment.paymentKey,
    checkoutSession: payment.session?.id ?? null,
    paymentIntent: payment.paymentIntent?.id ?? payment.session?.paymentIntentId ?? null,
    amount,
    currency,
    userId: null,
    matchedBy: null,
    credits: null,
    status: 'skipped',
    reason: null,
    paidAt: payment.paidAt,
    livemode: payment.session?.livemode ?? payment.paymentIntent?.livemode ?? false,
    creditRule: null,
    unknownIds: [],
    candidateUserIds: [],
    emails: emailCandidates(payment, ctx.rules.match),
    customerId: customerOf(payment),
    name: payment.session?.customerName ?? null,
  };

  // 1. already credited
  if (ctx.isCredited(payment)) return { ...base, status: 'already_credited' };
  if (ctx.isDismissed?.(payment)) return { ...base, status: 'skipped', reason: 'dismissed' };

  // 2. not a credit purchase
  const mode = payment.session?.mode;
  if (mode === 'subscription' || mode === 'setup') return { ...base, status: 'skipped', reason: mode };
  if (payment.paysInvoice) return { ...base, status: 'skipped', reason: 'invoice' };

  // 3. not settled
  if (payment.session && payment.session.paymentStatus === 'unpaid') return { ...base, status: 'pending' };

  // 4. fully refunded
  if (payment.paymentIntent?.refunded) return { ...base, status: 'skipped', reason: 'refunded' };

  // 5. no single user
  const match = matchUser(payment, ctx.users, ctx.rules.match, ctx.customerColumn);
  if (!match.ok) {
    return {
      ...base,
      status: 'needs_review',
      reason: match.reason,
      unknownIds: match.unknownIds,
      candidateUserIds: match.candidateUserIds,
    };
  }
  const matched = { ...base, userId: match.user.id, matchedBy: match.matchedBy, unknownIds: match.unknownIds };

  // 6. no valid credit amount
  const credits = computeCredits(payment, ctx.rules.credits, ctx.rules.maxCreditsPerPayment);
  if (!credits.ok)
    return {
      ...matched,
      status: 'needs_review',
      reason: credits.reason,
      ...(credits.detail ? { detail: credits.detail } : {}),
    };
  if (amountTooLow(payment, credits, ctx.rules.credits))
    return { ...matched, status: 'needs_review', reason: 'amount_too_low' };

  // 7. zero credits
  if (credits.credits === 0) {
    return { ...matched, credits: 0, creditRule: credits.rule, status: 'skipped', reason: 'no_credits' };
  }

  // 8. credit it
  return {
    ...matched,
    credits: credits.credits,
    creditRule: credits.rule,
    status: ctx.dryRun ? 'would_credit' : 'credited',
  };
}
