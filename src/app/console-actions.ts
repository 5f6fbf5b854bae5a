import { UsageError } from '../errors.js';
import type { AppConfig } from '../config.js';
import {
  adjustCredits,
  assignPayment,
  type AdjustResult,
  type AssignOptions,
  type AssignResult,
  type SupportOptions,
} from './corrections.js';
import { reverseReview, type ReversalReverseResult } from './reversal-review.js';
import type { ConsoleRole } from './console-accounts.js';

/** What the console adds to the CLI's writes: limits by role. The writes themselves are corrections.ts's. */

/** A write the signed-in person's role or limit does not allow: the console answers 403. */
export class ConsoleRefusal extends UsageError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'ConsoleRefusal';
  }
}

/** The most credits `role` may move in one action (adjust, assign, reverse): null for no limit (admin). */
export function adjustLimit(role: ConsoleRole, config: AppConfig): number | null {
  if (role === 'admin') return null;
  return role === 'support' ? config.console.maxAdjustCredits : 0;
}

/** `adjust` from the console: refused past the role's limit, else exactly the CLI's adjust. */
export async function consoleAdjust(
  o: SupportOptions & {
    role: ConsoleRole;
    user: string;
    credits: number;
    reason: string;
    actor: string;
    once?: string;
  },
): Promise<AdjustResult> {
  const limit = adjustLimit(o.role, o.settings.config);
  if (limit !== null && Math.abs(o.credits) > limit)
    throw new ConsoleRefusal(
      limit === 0
        ? `the ${o.role} role cannot adjust credits`
        : `${Math.abs(o.credits)} credits is more than a ${o.role} account may adjust in one entry (console.maxAdjustCredits: ${limit})`,
      'ask an admin',
    );
  const { role: _role, ...rest } = o;
  return adjustCredits(rest);
}

/** Refuses an action that would move more credits than the role's per-action limit. */
function withinLimit(role: ConsoleRole, config: AppConfig, credits: number, what: string): void {
  const limit = adjustLimit(role, config);
  if (limit !== null && credits > limit)
    throw new ConsoleRefusal(
      `${what} would move ${credits} credits, more than a ${role} account may in one action (console.maxAdjustCredits: ${limit})`,
      'ask an admin',
    );
}

/**
 * `assign` from the console, a move to another user (`reassign`) included: the credits its plan
 * would write count against the role's limit (a move hands a payment's credits to whoever is named,
 * as an adjust would).
 */
export async function consoleAssign(o: AssignOptions & { role: ConsoleRole }): Promise<AssignResult> {
  const { role, ...rest } = o;
  return assignPayment(rest, (plan) =>
    plan.reassign
      ? withinLimit(role, o.settings.config, plan.holding.credits, `moving ${plan.holding.purchase.payment_key}`)
      : withinLimit(role, o.settings.config, plan.decision.credits, `assigning ${plan.decision.paymentKey}`),
  );
}

/** A reversal from the console's review queue: the credits at stake count against the role's limit. */
export async function consoleReverse(
  o: SupportOptions & { role: ConsoleRole; id: string; reason: string; actor: string },
): Promise<ReversalReverseResult> {
  const { role, ...rest } = o;
  return reverseReview(rest, (plan) =>
    withinLimit(role, o.settings.config, Math.abs(plan.decision.credits), `reversing ${plan.row.payment_key}`),
  );
}
