import { assignPayment, parseCredits, requireText, type AssignResult } from '../../app/corrections.js';
import { resolveSettings } from '../../config.js';
import { signed, userLabel, writeJson } from '../ledger-output.js';
import type { CommonFlags, CommandContext } from '../context.js';
import { termText } from '../term-text.js';

export interface AssignFlags extends CommonFlags {
  user: string;
  reason?: string;
  credits?: string;
  reassign?: boolean;
}

const SOURCE_TEXT: Record<AssignResult['creditSource'], string> = {
  metadata: 'by the credits metadata',
  prices: 'by the price map',
  unit_amount: 'by the amount rule',
  override: 'given with --credits',
  purchase: 'as credited',
};

export function renderAssign(r: AssignResult): string {
  if (r.outcome === 'unchanged')
    return `${r.paymentKey} is already with ${userLabel(r.user)} (${r.credits} credits): nothing written.\n`;
  if (r.outcome === 'reassigned') {
    const lines = [
      `Moved the ${r.credits} credits of ${r.paymentKey} from user ${r.previousUserId} to ${userLabel(r.user)}:`,
    ];
    for (const e of r.entries)
      lines.push(`  entry ${e.id}  ${e.kind.padEnd(15)} ${signed(e.credits).padStart(7)}  user ${e.userId}`);
    lines.push(`The purchase entry is kept; the payment still counts once. By ${r.actor}: ${r.reason}`);
    return `${lines.join('\n')}\n`;
  }
  const e = r.entries[0];
  return [
    `Credited ${r.credits} credits (${SOURCE_TEXT[r.creditSource]}) to ${userLabel(r.user)} for ${r.paymentKey}${e ? `: ledger entry ${e.id}` : ''}, by ${r.actor}: ${r.reason}`,
    r.reviewClosed ? 'Its review entry is closed.' : 'It was not in the review queue.',
    '',
  ].join('\n');
}

export async function assignCommand(ctx: CommandContext, payment: string, flags: AssignFlags): Promise<number> {
  const reason = requireText(flags.reason, '--reason');
  const actor = requireText(flags.actor ?? ctx.defaultActor, '--actor');
  const credits = flags.credits !== undefined ? parseCredits(flags.credits, { signed: false }) : null;
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const r = await assignPayment({
    settings,
    cwd: ctx.cwd,
    payment,
    user: flags.user,
    reason,
    actor,
    credits,
    reassign: flags.reassign === true,
  });
  if (flags.json) {
    writeJson(ctx, {
      outcome: r.outcome,
      paymentKey: r.paymentKey,
      checkoutSession: r.checkoutSession,
      paymentIntent: r.paymentIntent,
      userId: r.user.id,
      user: r.user,
      credits: r.credits,
      creditSource: r.creditSource,
      previousUserId: r.previousUserId,
      reviewClosed: r.reviewClosed,
      actor: r.actor,
      reason: r.reason,
      entries: r.entries,
    });
  } else ctx.io.stdout.write(renderAssign(r).split('\n').map(termText).join('\n'));
  return 0;
}
