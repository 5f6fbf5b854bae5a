import { relative } from 'node:path';
import { runDemo } from '../../app/demo.js';
import { reconcileJson, renderAttention, renderReconcile, summaryLine } from '../output.js';
import type { CommandContext } from './reconcile.js';

export async function demoCommand(ctx: CommandContext, flags: { json?: boolean }): Promise<number> {
  const out = ctx.io.stdout;
  if (!flags.json) {
    out.write('stripe-credits demo: a local Stripe simulator on 127.0.0.1 with sample payments, and a fresh data/demo.db\n');
    out.write('whose users table has only id, email and name. No Stripe account, no network.\n\n');
  }
  const result = await runDemo({
    cwd: ctx.cwd,
    actor: ctx.defaultActor,
    onReport: (title, r) => {
      if (flags.json) return;
      out.write(`== ${title}\n`);
      out.write(title.startsWith('3.') ? `${summaryLine(r)}\n\n` : `${renderReconcile(r)}\n`);
    },
  });
  if (flags.json) {
    out.write(`${JSON.stringify(reconcileJson(result.apply), null, 2)}\n`);
    return 0;
  }
  out.write('== What a person should look at\n');
  out.write(renderAttention(result.apply.decisions));
  out.write(`\nThe ledger is in ${relative(ctx.cwd, result.dbPath)} (table credit_ledger). Try:\n`);
  out.write(`  sqlite3 ${relative(ctx.cwd, result.dbPath)} "select user_id, sum(credits) from credit_ledger group by user_id"\n`);
  return 0;
}
