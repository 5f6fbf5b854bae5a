import { recentRuns, type RunView } from '../../app/runs.js';
import { resolveSettings } from '../../config.js';
import { UsageError } from '../../errors.js';
import type { CommonFlags, CommandContext } from '../context.js';
import { table } from '../ledger-output.js';
import { termText } from '../term-text.js';

/** `runs`: recent runs with their window, counts, outcome and duration (read-only). */
export async function runsCommand(ctx: CommandContext, flags: CommonFlags & { limit?: string }): Promise<number> {
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000)
    throw new UsageError(`--limit must be a whole number from 1 to 10000, not '${flags.limit}'`);
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const rows = await recentRuns(settings, ctx.cwd, limit);
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify({ runs: rows }, null, 2)}\n`);
  else if (rows.length === 0) ctx.io.stdout.write('no runs recorded yet\n');
  else ctx.io.stdout.write(renderRuns(rows));
  return 0;
}

/** The runs as a table, then each run's error and notes on lines of their own. */
function renderRuns(rows: readonly RunView[]): string {
  const t = table([
    'Run',
    'Started (UTC)',
    'Source',
    'Window (UTC)',
    'Status',
    'Payments',
    'Credited',
    'Review',
    'Pending',
    'Credits',
    'Requests',
    'Took',
  ]);
  const short = (s: string) => s.slice(0, 16).replace('T', ' ');
  for (const r of rows) {
    t.push([
      String(r.id),
      short(r.startedAt),
      r.source ?? '',
      `${short(r.window.since)} → ${short(r.window.until)}`,
      r.status,
      String(r.counts?.payments ?? ''),
      String(r.counts?.credited ?? ''),
      String(r.counts?.needsReview ?? ''),
      String(r.counts?.pending ?? ''),
      String(r.creditsWritten),
      r.requests === null ? '' : String(r.requests),
      r.durationSeconds === null ? '' : `${r.durationSeconds}s`,
    ]);
  }
  let out = `${t.toString()}\n`;
  for (const r of rows) {
    if (r.error) out += `run ${r.id}: ${termText(r.error)}\n`;
    for (const n of r.notes) out += `run ${r.id}: note: ${termText(n)}\n`;
  }
  return out;
}
