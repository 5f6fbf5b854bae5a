import Table from 'cli-table3';
import { resolveSettings } from '../../config.js';
import { UsageError } from '../../errors.js';
import { openDatabase, parseDbUrl, toolTablesExist } from '../../ledger/db.js';
import { listRuns } from '../../ledger/ledger.js';
import type { RunRow } from '../../ledger/schema.js';
import type { CommonFlags } from '../main.js';
import type { CommandContext } from './reconcile.js';
import { termText } from '../term-text.js';

function durationSeconds(r: RunRow): number | null {
  if (!r.finished_at) return null;
  return Math.round((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 100) / 10;
}

function runJson(r: RunRow) {
  return {
    id: Number(r.id),
    mode: r.mode,
    source: r.source,
    window: { since: r.since, until: r.until },
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationSeconds: durationSeconds(r),
    counts: r.counts ? (JSON.parse(r.counts) as Record<string, number>) : null,
    creditsWritten: Number(r.credits_written),
    requests: r.requests === null ? null : Number(r.requests),
    actor: r.actor,
    error: r.error,
    notes: r.notes ? (JSON.parse(r.notes) as string[]) : [],
  };
}

/** `runs`: recent runs with their window, counts, outcome and duration (read-only). */
export async function runsCommand(ctx: CommandContext, flags: CommonFlags & { limit?: string }): Promise<number> {
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000)
    throw new UsageError(`--limit must be a whole number from 1 to 10000, not '${flags.limit}'`);
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const open = await openDatabase(parseDbUrl(settings.db, ctx.cwd), { readonly: true });
  try {
    const rows = (await toolTablesExist(open.db)) ? (await listRuns(open.db, limit)).map(runJson) : [];
    if (flags.json) {
      ctx.io.stdout.write(`${JSON.stringify({ runs: rows }, null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      ctx.io.stdout.write('no runs recorded yet\n');
      return 0;
    }
    const t = new Table({
      head: [
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
      ],
      style: { head: [], border: [] },
      chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    });
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
    ctx.io.stdout.write(`${t.toString()}\n`);
    for (const r of rows) {
      if (r.error) ctx.io.stdout.write(`run ${r.id}: ${termText(r.error)}\n`);
      for (const n of r.notes) ctx.io.stdout.write(`run ${r.id}: note: ${termText(n)}\n`);
    }
    return 0;
  } finally {
    await open.close();
  }
}
