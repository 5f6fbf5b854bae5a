import { userBalance } from '../../app/corrections.js';
import { resolveSettings } from '../../config.js';
import { entriesTable, userLabel, writeJson } from '../ledger-output.js';
import type { CommonFlags, CommandContext } from '../context.js';
import { ShortIds } from '../short-id.js';
import { termText } from '../term-text.js';

export async function balanceCommand(ctx: CommandContext, user: string, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const r = await userBalance({ settings, cwd: ctx.cwd, user });
  if (flags.json) {
    writeJson(ctx, {
      userId: r.user.id,
      balance: r.balance,
      balanceSource: r.balanceSource,
      entries: r.entries,
      user: r.user,
    });
    return 0;
  }
  const own = r.balanceSource === 'SUM(credit_ledger.credits)';
  ctx.io.stdout.write(`${userLabel(r.user)}: ${r.balance} credits${own ? '' : ` (${r.balanceSource})`}\n`);
  if (r.entries.length === 0)
    ctx.io.stdout.write(own ? 'No ledger entries.\n' : 'No entries written by stripe-credits.\n');
  else {
    const ids = new ShortIds();
    const lines = [
      ...(own ? [] : ['Entries written by stripe-credits (its own record):']),
      entriesTable(r.entries, { ids }),
      ...ids.legend().map(termText),
    ];
    ctx.io.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
