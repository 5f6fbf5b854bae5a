import { UsageError } from '../errors.js';
import type { AppConfig } from '../config.js';
import { adjustCredits, type AdjustResult, type SupportOptions } from './corrections.js';
import type { ConsoleRole } from './console-accounts.js';

/** What the console adds to the CLI's writes: limits by role. The writes themselves are corrections.ts's. */

/** A write the signed-in person's role or limit does not allow: the console answers 403. */
export class ConsoleRefusal extends UsageError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'ConsoleRefusal';
  }
}

/** The most credits `role` may adjust in one entry: null for no limit (admin). */
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
