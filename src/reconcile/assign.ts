import { computeCredits } from './credits.js';
import { decidePayment } from './decide.js';
import type { CreditRuleName, Payment, PaymentDecision, RulesConfig, User, UserDirectory } from './types.js';

/**
 * What `assign` may credit: the pure part of the command, reusing the core's own gates and credit
 * rules rather than restating them.
 */

const NO_USERS: UserDirectory = { byId: () => undefined, byCustomer: () => [], byEmail: () => [] };

export type AssignRefusal =
  'subscription' | 'setup' | 'invoice' | 'pending' | 'refunded' | 'invalid_credits' | 'no_credit_rule' | 'no_credits';

export type AssignPlan =
  | {
      ok: true;
      /** A `credited` decision for the chosen user, ready for the ledger. */
      decision: PaymentDecision;
      /** Where the credits came from: a rule, or `--credits`. */
      creditSource: CreditRuleName | 'override';
    }
  | { ok: false; refusal: AssignRefusal; message: string; hint: string };

const REFUSAL_TEXT: Record<AssignRefusal, { message: string; hint: string }> = {
  subscription: {
    message: 'is a subscription Checkout Session, not a credit purchase',
    hint: 'subscriptions are not credited by this tool',
  },
  setup: { message: 'is a setup Checkout Session, not a credit purchase', hint: 'a setup session takes no payment' },
  invoice: {
    message: 'pays an invoice, not a credit purchase',
    hint: 'invoices (subscriptions, Stripe Invoicing) are not credited by this tool',
  },
  pending: {
    message: 'has not settled yet (its PaymentIntent is still processing): it cannot be credited before it succeeds',
    hint: 'a later reconcile credits it when it settles, or puts it in review; assign it then',
  },
  refunded: {
    message: 'was fully refunded: there is nothing to credit',
    hint: 'use adjust if the user should get credits anyway',
  },
  invalid_credits: {
    message:
      'has no valid credit amount (the credits metadata is not a positive whole number, or exceeds maxCreditsPerPayment)',
    hint: 'give the number of credits with --credits N',
  },
  no_credit_rule: {
    message: 'has no credit rule that applies (no credits metadata, unknown price, no amount rule for its currency)',
    hint: 'give the number of credits with --credits N',
  },
  no_credits: {
    message: 'comes to 0 credits under the amount rule',
    hint: 'give the number of credits with --credits N',
  },
};

/**
 * What `assign` would credit to `user`. The payment must be one reconcile could credit: the same
 * gates, in the same order (SPEC "One status per payment", steps 2–4: not a credit purchase,
 * not settled, fully refunded), are taken from `decidePayment` itself; then the credits by the
 * rules, unless the person gives them (`creditsOverride`, still capped by maxCreditsPerPayment).
 */
export function assignPlan(
  payment: Payment,
  user: User,
  rules: RulesConfig,
  creditsOverride: number | null,
): AssignPlan {
  // With no users at all, the decision stops at the first gate that applies, or at "no user".
  const gate = decidePayment(payment, {
    rules,
    users: NO_USERS,
    customerColumn: false,
    isCredited: () => false,
    dryRun: false,
  });
  if (gate.status === 'pending') return refusal('pending');
  if (gate.status === 'skipped') {
    const r = gate.reason;
    if (r === 'subscription' || r === 'setup' || r === 'invoice' || r === 'refunded') return refusal(r);
  }
  if (gate.status !== 'needs_review') throw new Error(`assignPlan: unexpected gate ${gate.status}/${gate.reason}`);

  const chosen = assignedCredits(payment, rules, creditsOverride);
  if (!chosen.ok) return chosen;
  const { credits, creditSource } = chosen;
  return {
    ok: true,
    creditSource,
    decision: {
      ...gate,
      status: 'credited',
      reason: null,
      userId: user.id,
      matchedBy: null,
      credits,
      creditRule: creditSource === 'override' ? null : creditSource,
      unknownIds: [],
      candidateUserIds: [],
    },
  };
}

/** The credits `assign` writes: `--credits` when given (a positive whole number within the cap), else the rules'. */
function assignedCredits(
  payment: Payment,
  rules: RulesConfig,
  creditsOverride: number | null,
): { ok: true; credits: number; creditSource: CreditRuleName | 'override' } | Extract<AssignPlan, { ok: false }> {
  if (creditsOverride === null) {
    const c = computeCredits(payment, rules.credits, rules.maxCreditsPerPayment);
    if (!c.ok) return refusal(c.reason);
    if (c.credits === 0) return refusal('no_credits');
    return { ok: true, credits: c.credits, creditSource: c.rule };
  }
  if (!Number.isSafeInteger(creditsOverride) || creditsOverride <= 0) {
    return {
      ok: false,
      refusal: 'invalid_credits',
      message: `--credits must be a positive whole number, not ${creditsOverride}`,
      hint: 'e.g. --credits 100',
    };
  }
  if (creditsOverride > rules.maxCreditsPerPayment) {
    return {
      ok: false,
      refusal: 'invalid_credits',
      message: `--credits ${creditsOverride} is more than maxCreditsPerPayment (${rules.maxCreditsPerPayment})`,
      hint: 'check the number; raise maxCreditsPerPayment in the config file if it is really right',
    };
  }
  return { ok: true, credits: creditsOverride, creditSource: 'override' };
}

function refusal(refusal: AssignRefusal): Extract<AssignPlan, { ok: false }> {
  return { ok: false, refusal, ...REFUSAL_TEXT[refusal] };
}
