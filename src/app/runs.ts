import type { Settings } from '../config.js';
import { openDatabase, parseDbUrl, toolTablesExist } from '../ledger/db.js';
import { listRuns } from '../ledger/ledger.js';
import type { RunRow } from '../ledger/schema.js';

/** A run as `runs` shows it (and prints with --json). */
export interface RunView {
  id: number;
  mode: string;
  source: string | null;
  window: { since: string; until: string };
  status: string;
  startedAt: string;
  finishedAt: string | null;
  durationSeconds: number | null;
  counts: Record<string, number> | null;
  creditsWritten: number;
  requests: number | null;
  actor: string;
  error: string | null;
  notes: string[];
}

function durationSeconds(r: RunRow): number | null {
  if (!r.finished_at) return null;
  return Math.round((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 100) / 10;
}

function runView(r: RunRow): RunView {
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

/** The newest `limit` runs, newest first; none on a database the tool never touched (opened read-only). */
export async function recentRuns(settings: Settings, cwd: string, limit: number): Promise<RunView[]> {
  const open = await openDatabase(parseDbUrl(settings.db, cwd), { readonly: true });
  try {
    return (await toolTablesExist(open.db)) ? (await listRuns(open.db, limit)).map(runView) : [];
  } finally {
    await open.close();
  }
}
