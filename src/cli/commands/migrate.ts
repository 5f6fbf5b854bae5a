import { resolveSettings } from '../../config.js';
import { migrateToLatest, openDatabase, parseDbUrl } from '../../ledger/db.js';
import type { CommonFlags } from '../main.js';
import type { CommandContext } from './reconcile.js';

export async function migrateCommand(ctx: CommandContext, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const open = await openDatabase(parseDbUrl(settings.db, ctx.cwd), { readonly: false });
  try {
    const applied = await migrateToLatest(open.db);
    if (flags.json) ctx.io.stdout.write(`${JSON.stringify({ database: open.location.label, applied })}\n`);
    else if (applied.length === 0) ctx.io.stdout.write(`${open.location.label}: the tool's tables are up to date\n`);
    else ctx.io.stdout.write(`${open.location.label}: applied ${applied.join(', ')}\n`);
    return 0;
  } finally {
    await open.close();
  }
}
