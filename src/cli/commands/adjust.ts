import { adjustCredits, parseCredits, requireText } from '../../app/corrections.js';
import { resolveSettings } from '../../config.js';
import { signed, userLabel, writeJson } from '../ledger-output.js';
import type { CommonFlags, CommandContext } from '../context.js';
import { termText } from '../term-text.js';

export interface AdjustFlags extends CommonFlags {
  user: string;
  credits: string;
  reason?: string;
}

export async function adjustCommand(ctx: CommandContext, flags: AdjustFlags): Promise<number> {
  const reason = requireText(flags.reason, '--reason');
  const actor = requireText(flags.actor ?? ctx.defaultActor, '--actor');
  const credits = parseCredits(flags.credits, { signed: true });
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const r = await adjustCredits({ settings, cwd: ctx.cwd, user: flags.user, credits, reason, actor });
  if (flags.json)
    writeJson(ctx, { userId: r.user.id, user: r.user, credits: r.entry.credits, balance: r.balance, entry: r.entry });
  else {
    ctx.io.stdout.write(
      `${termText(`Adjusted ${userLabel(r.user)} by ${signed(r.entry.credits)} credits: manual entry ${r.entry.id}, by ${r.entry.actor}: ${r.entry.reason}`)}\n`,
    );
    ctx.io.stdout.write(`Balance now ${r.balance} credits.\n`);
  }
  return 0;
}
