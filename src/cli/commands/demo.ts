import { relative } from 'node:path';
import { runDemo } from '../../app/demo.js';
import { renderAttention, renderReconcile, summaryLine, writeReconcileJson } from '../output.js';
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
    await writeReconcileJson(out, result.apply);
    return 0;
  }
  out.write('== What a person should look at\n');
  out.write(renderAttention(result.apply.decisions));
  out.write('\n== Balances the app now reads (SELECT SUM(credits) FROM credit_ledger WHERE user_id = ?)\n');
  for (const b of result.balances) out.write(`  user ${b.userId.padEnd(3)} ${(b.email ?? '').padEnd(22)} ${String(b.balance).padStart(6)} credits\n`);
  out.write(`\nThe database is ${relative(ctx.cwd, result.dbPath)}; run the demo again to start over.\n`);
  return 0;
}
