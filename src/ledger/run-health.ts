import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** What the console's runs page plots, read in two aggregate queries (never every run or entry row). */

/** Credits the runs wrote, per UTC day (`YYYY-MM-DD`) of their start, from `since` on. */
export async function creditsWrittenPerDay(
  db: Kysely<Database>,
  since: string,
): Promise<{ day: string; credits: number }[]> {
  const rows = await db
    .selectFrom('stripe_credits_runs')
    .select((eb) => [
      eb.fn<string>('substr', ['started_at', eb.val(1), eb.val(10)]).as('day'),
      eb.fn.sum<number | string>('credits_written').as('credits'),
    ])
    .where('started_at', '>=', since)
    .groupBy('day')
    .execute();
  return rows.map((r) => ({ day: r.day, credits: Number(r.credits) }));
}

/** When each review entry open at some point since `since` was queued and closed (null: still open). */
export async function reviewSpans(
  db: Kysely<Database>,
  since: string,
): Promise<{ createdAt: string; resolvedAt: string | null }[]> {
  const rows = await db
    .selectFrom('stripe_credits_review')
    .select(['created_at', 'resolved_at'])
    .where((eb) => eb.or([eb('resolved_at', 'is', null), eb('resolved_at', '>=', since)]))
    .execute();
  return rows.map((r) => ({ createdAt: r.created_at, resolvedAt: r.resolved_at }));
}
