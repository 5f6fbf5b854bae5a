import { migrate } from '../../app/migrate.js';
import { resolveSettings } from '../../config.js';
import type { CommonFlags, CommandContext } from '../context.js';

export async function migrateCommand(ctx: CommandContext, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const { database, applied } = await migrate(settings, ctx.cwd);
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify({ database, applied })}\n`);
  else if (applied.length === 0) ctx.io.stdout.write(`${database}: the tool's tables are up to date\n`);
  else ctx.io.stdout.write(`${database}: applied ${applied.join(', ')}\n`);
  return 0;
}
