import type { Settings } from '../config.js';
import { openDatabase, parseDbUrl, toolTablesExist } from '../ledger/db.js';
import { creditsWrittenPerDay, reviewSpans } from '../ledger/run-health.js';
import { recentRuns, type RunView } from './runs.js';

/** Whether the nightly runs are healthy, at a glance: the last runs (as `runs` shows them) and two 30-day series. */
export interface RunHealth {
  runs: RunView[];
  /** One point per UTC day, oldest first, the last one today. */
  creditsPerDay: { day: string; value: number }[];
  /** Review entries open at the end of each day (today: now). */
  backlogPerDay: { day: string; value: number }[];
}

const DAY_MS = 86_400_000;

function lastDays(now: number, n: number): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return Array.from({ length: n }, (_, i) => new Date(today - (n - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

/** Entries queued by the end of `day` and not closed by then. */
function openAt(spans: readonly { createdAt: string; resolvedAt: string | null }[], end: string): number {
  return spans.filter((s) => s.createdAt < end && (s.resolvedAt === null || s.resolvedAt >= end)).length;
}

export async function runHealth(settings: Settings, cwd: string, now = Date.now(), days = 30): Promise<RunHealth> {
  const runs = await recentRuns(settings, cwd, 20);
  const dayList = lastDays(now, days);
  const since = `${dayList[0]}T00:00:00.000Z`;
  const open = await openDatabase(parseDbUrl(settings.db, cwd), { readonly: true });
  try {
    const tools = await toolTablesExist(open.db);
    const credits = new Map(tools ? (await creditsWrittenPerDay(open.db, since)).map((r) => [r.day, r.credits]) : []);
    const spans = tools ? await reviewSpans(open.db, since) : [];
    const nowIso = new Date(now).toISOString();
    return {
      runs,
      creditsPerDay: dayList.map((day) => ({ day, value: credits.get(day) ?? 0 })),
      backlogPerDay: dayList.map((day, i) => {
        const end = i === dayList.length - 1 ? nowIso : new Date(Date.parse(day) + DAY_MS).toISOString();
        return { day, value: openAt(spans, end) };
      }),
    };
  } finally {
    await open.close();
  }
}
