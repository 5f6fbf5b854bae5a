import { customerOf, emailCandidates, idCandidates, matchUser, type MatchResult } from './match.js';
import type { MatchConfig, Payment, UserDirectory } from './types.js';

/**
 * How the user-matching chain reasons about one payment, for `lookup`: the same candidates and the
 * same `matchUser` reconcile uses, each look-up spelled out.
 */

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

/** "user u1" / "users u1, u2", or `none` when the look-up found nobody. */
function foundText(found: readonly string[], none: string): string {
  if (found.length === 0) return none;
  return found.length === 1 ? `user ${found[0]}` : `users ${found.join(', ')}`;
}

function idSteps(payment: Payment, users: UserDirectory, cfg: MatchConfig): MatchStep[] {
  return idCandidates(payment, cfg).map((c) => {
    const u = users.byId(c.value);
    return {
      step: 'id',
      field: c.field,
      value: c.value,
      userIds: u ? [u.id] : [],
      note: u ? `user ${u.id}` : 'no user has this id: passed over',
    };
  });
}

function customerSteps(payment: Payment, users: UserDirectory, customerColumn: boolean): MatchStep[] {
  const customer = customerOf(payment);
  if (customer === null) return [];
  if (!customerColumn) {
    const note = 'not used: users.stripeCustomerId is not configured';
    return [{ step: 'customer', field: 'customer', value: customer, userIds: [], note }];
  }
  const found = users.byCustomer(customer).map((u) => u.id);
  const note = foundText(found, 'no user has this Stripe customer id');
  return [{ step: 'customer', field: 'customer', value: customer, userIds: found, note }];
}

function emailSteps(payment: Payment, users: UserDirectory, cfg: MatchConfig): MatchStep[] {
  return emailCandidates(payment, cfg).map((e): MatchStep => {
    if (!cfg.byEmail)
      return { step: 'email', field: 'email', value: e, userIds: [], note: 'not used: match.byEmail is off' };
    const found = users.byEmail(e).map((u) => u.id);
    return {
      step: 'email',
      field: 'email',
      value: e,
      userIds: found,
      note: foundText(found, 'no user has this email'),
    };
  });
}

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
  const steps = [
    ...idSteps(payment, users, cfg),
    ...customerSteps(payment, users, customerColumn),
    ...emailSteps(payment, users, cfg),
  ];
  const result = matchUser(payment, users, cfg, customerColumn);
  const summary = result.ok
    ? `user ${result.user.id}, matched by ${result.matchedBy}`
    : `no single user (${result.reason}): ${NO_MATCH_TEXT[result.reason]}${result.candidateUserIds.length ? `; candidates: users ${result.candidateUserIds.join(', ')}` : ''}`;
  return { steps, result, summary };
}
