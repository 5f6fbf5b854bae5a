import { computeCredits } from './credits.js';
import { decidePayment } from './decide.js';
import { customerOf, emailCandidates, idCandidates, matchUser, type MatchResult } from './match.js';
import type {
  CreditRuleName,
  MatchConfig,
  Payment,
  PaymentDecision,
  RulesConfig,
  User,
  UserDirectory,
} from './types.js';

/**
 * The pure part of the support commands: what `assign` may credit, and how the user-matching chain
 * reasons about one payment (for `lookup`). Both reuse the core's own rules rather than restating them.
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
  const refuse = (refusal: AssignRefusal): AssignPlan => ({ ok: false, refusal, ...REFUSAL_TEXT[refusal] });
  if (gate.status === 'pending') return refuse('pending');
  if (gate.status === 'skipped') {
    const r = gate.reason;
    if (r === 'subscription' || r === 'setup' || r === 'invoice' || r === 'refunded') return refuse(r);
  }
  if (gate.status !== 'needs_review') throw new Error(`assignPlan: unexpected gate ${gate.status}/${gate.reason}`);

  let credits: number;
  let creditSource: CreditRuleName | 'override';
  if (creditsOverride !== null) {
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
    credits = creditsOverride;
    creditSource = 'override';
  } else {
    const c = computeCredits(payment, rules.credits, rules.maxCreditsPerPayment);
    if (!c.ok) return refuse(c.reason);
    if (c.credits === 0) return refuse('no_credits');
    credits = c.credits;
    creditSource = c.rule;
  }
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

/** One look-up the chain makes, and what it found. */
export interface MatchStep {
  step: 'id' | 'customer' | 'email';
  /** Where the value came from: `client_reference_id`, `metadata.user_id`, `customer`, `email`. */
  field: string;
  value: string;
  /** The user ids it resolved to. */
  userIds: string[];
  note: string;
}

export interface MatchExplanation {
  steps: MatchStep[];
  result: MatchResult;
  /** One sentence: who, and by which field, or why nobody. */
  summary: string;
}

const NO_MATCH_TEXT: Record<Extract<MatchResult, { ok: false }>['reason'], string> = {
  conflicting_ids: 'the user ids on the payment point at different users',
  ambiguous_customer: 'several users have this Stripe customer id',
  ambiguous_email: 'several users share one of its emails',
  conflicting_emails: 'its emails point at different users',
  no_user: 'no user found by id, customer or email',
};

/**
 * How the user-matching chain (SPEC "Which user") reasons about one payment: every id, customer
 * and email it looks at, what each resolved to, and the outcome `matchUser` reaches.
 */
export function explainMatch(
  payment: Payment,
  users: UserDirectory,
  cfg: MatchConfig,
  customerColumn: boolean,
): MatchExplanation {
  const steps: MatchStep[] = [];
  for (const c of idCandidates(payment, cfg)) {
    const u = users.byId(c.value);
    steps.push({
      step: 'id',
      field: c.field,
      value: c.value,
      userIds: u ? [u.id] : [],
      note: u ? `user ${u.id}` : 'no user has this id: passed over',
    });
  }
  const customer = customerOf(payment);
  if (customer !== null) {
    if (customerColumn) {
      const found = users.byCustomer(customer).map((u) => u.id);
      steps.push({
        step: 'customer',
        field: 'customer',
        value: customer,
        userIds: found,
        note:
          found.length === 0
            ? 'no user has this Stripe customer id'
            : found.length === 1
              ? `user ${found[0]}`
              : `users ${found.join(', ')}`,
      });
    } else {
      steps.push({
        step: 'customer',
        field: 'customer',
        value: customer,
        userIds: [],
        note: 'not used: users.stripeCustomerId is not configured',
      });
    }
  }
  for (const e of emailCandidates(payment, cfg)) {
    if (!cfg.byEmail) {
      steps.push({ step: 'email', field: 'email', value: e, userIds: [], note: 'not used: match.byEmail is off' });
      continue;
    }
    const found = users.byEmail(e).map((u) => u.id);
    steps.push({
      step: 'email',
      field: 'email',
      value: e,
      userIds: found,
      note:
        found.length === 0
          ? 'no user has this email'
          : found.length === 1
            ? `user ${found[0]}`
            : `users ${found.join(', ')}`,
    });
  }
  const result = matchUser(payment, users, cfg, customerColumn);
  const summary = result.ok
    ? `user ${result.user.id}, matched by ${result.matchedBy}`
    : `no single user (${result.reason}): ${NO_MATCH_TEXT[result.reason]}${result.candidateUserIds.length ? `; candidates: users ${result.candidateUserIds.join(', ')}` : ''}`;
  return { steps, result, summary };
}
