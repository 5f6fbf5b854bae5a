import SQLite from 'better-sqlite3';

/**
 * Thirty days of an account's history written straight into the tool's runs and review tables, for
 * the runs page's screenshot: the tool has no clock override, and a month of real reconcile runs
 * against the simulator would take minutes. Hourly cron runs (a few failed), weekday/weekend
 * volume with one launch day, and a review backlog that rises after the launch and is worked down
 * by support on weekdays. Deterministic: a seeded generator, so the picture is the same every time.
 */

const HOUR = 3600;
const DAY = 86400;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PACKS = [
  { amount: 900, credits: 100 },
  { amount: 1900, credits: 250 },
  { amount: 3900, credits: 600 },
  { amount: 9900, credits: 1800 },
];
const REASONS = ['no_user', 'no_user', 'ambiguous_email', 'conflicting_ids', 'invalid_credits'];

function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const iso = (sec: number) => new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, '.000Z');

/** Payments expected in one hour: weekdays busier than weekends, evenings busier than nights, the launch day a spike. */
function hourlyRate(t: number, launchDay: number): number {
  const day = Math.floor(t / DAY);
  const hour = Math.floor((t % DAY) / HOUR);
  const weekday = new Date(t * 1000).getUTCDay();
  const perDay = day === launchDay ? 190 : weekday === 0 || weekday === 6 ? 22 : 38;
  const diurnal = 0.4 + Math.max(0, Math.sin(((hour - 7) / 24) * 2 * Math.PI)) * 1.6;
  return (perDay / 24) * diurnal * (day === launchDay + 1 ? 1.8 : 1);
}

interface Queued {
  created: number;
  reason: string;
}

/** Support works the queue on weekdays at 10:00 and 15:00 UTC, oldest first, a handful at a time. */
function supportPass(t: number, open: Queued[], closed: (q: Queued, at: number) => void): void {
  const weekday = new Date(t * 1000).getUTCDay();
  const hour = Math.floor((t % DAY) / HOUR);
  if (weekday === 0 || weekday === 6 || (hour !== 10 && hour !== 15)) return;
  for (const q of open.splice(0, 3)) closed(q, t + 600);
}

type Statement = SQLite.Statement<unknown[]>;

const RUN_SQL = `INSERT INTO stripe_credits_runs (mode, since, until, status, started_at, finished_at, counts,
  credits_written, actor, error, source, requests) VALUES ('apply', ?, ?, ?, ?, ?, ?, ?, 'cron', ?, 'window', ?)`;
const REVIEW_SQL = `INSERT INTO stripe_credits_review (payment_key, checkout_session_id, payment_intent_id, reason,
  amount, currency, livemode, paid_at, emails, candidate_user_ids, unknown_ids, status, created_at, updated_at,
  resolved_at, resolved_by, resolution) VALUES (?, ?, ?, ?, ?, 'usd', 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?, ?)`;

/** One closed review entry, as `assign` or `dismiss` leaves it: a Stripe-like payment, who closed it and why. */
function closer(insert: Statement, rnd: () => number): (q: Queued, at: number) => void {
  let n = 0;
  const id = (prefix: string) => prefix + Array.from({ length: 24 }, () => BASE62[Math.floor(rnd() * 62)]).join('');
  return (q, at) => {
    const cs = id('cs_test_a1');
    const pack = PACKS[Math.floor(rnd() * PACKS.length)]!;
    const dismissed = q.reason === 'invalid_credits';
    const resolution = dismissed
      ? 'refunded in Stripe: bad metadata'
      : `assigned to user ${1 + Math.floor(rnd() * 900)}: ticket ${4000 + n}`;
    const done = at + Math.floor(rnd() * 1800);
    const [status, who] = [dismissed ? 'dismissed' : 'resolved', rnd() < 0.6 ? 'sam' : 'lea'];
    insert.run(
      cs,
      cs,
      id('pi_3M'),
      q.reason,
      pack.amount,
      iso(q.created - 40),
      `["buyer${n}@example.com"]`,
      status,
      iso(q.created),
      iso(done),
      iso(done),
      who,
      resolution,
    );
    n += 1;
  };
}

/** One successful cron run over (from, t]: its payments, the credits it wrote, the entries it queued. */
function succeededRun(
  insert: Statement,
  rnd: () => number,
  run: { from: number; t: number; start: number; launchDay: number },
  open: Queued[],
): void {
  const hours = (run.t - run.from) / HOUR;
  const payments = Math.round(hourlyRate(run.t, run.launchDay) * hours * (0.6 + rnd() * 0.8));
  const reviewRate = Math.floor(run.t / DAY) === run.launchDay ? 0.12 : 0.04;
  let [credits, review] = [0, 0];
  for (let i = 0; i < payments; i++)
    if (rnd() < reviewRate) {
      review += 1;
      open.push({ created: run.start + 2, reason: REASONS[Math.floor(rnd() * REASONS.length)]! });
    } else credits += PACKS[Math.floor(rnd() * PACKS.length)]!.credits;
  const counts = {
    payments,
    credited: payments - review,
    wouldCredit: 0,
    alreadyCredited: 0,
    needsReview: review,
    pending: 0,
    skipped: 0,
  };
  insert.run(
    iso(run.from),
    iso(run.t),
    'succeeded',
    iso(run.start),
    iso(run.start + 1 + Math.floor(payments / 2 + rnd() * 3)),
    JSON.stringify(counts),
    credits,
    null,
    2 + Math.ceil(payments / 100),
  );
}

export function seedConsoleHistory(dbPath: string, nowSec: number): { runs: number; reviews: number } {
  const rnd = generator(19);
  const db = new SQLite(dbPath);
  const today = Math.floor(nowSec / DAY);
  const launchDay = today - 11;
  const insertRun = db.prepare<unknown[]>(RUN_SQL);
  const close = closer(db.prepare<unknown[]>(REVIEW_SQL), rnd);
  const open: Queued[] = [];
  let [runs, reviews] = [0, 0];
  const counted = (q: Queued, at: number) => {
    close(q, at);
    reviews += 1;
  };
  db.transaction(() => {
    // Hourly at :05, from the first plotted day to the hour before the demo's own runs.
    let from = (today - 29) * DAY - HOUR + 5 * 60;
    for (let t = from + HOUR; t < nowSec - 15 * 60; t += HOUR) {
      const start = t + Math.floor(rnd() * 4);
      supportPass(t, open, counted);
      runs += 1;
      // One outage in the last hours, so the table shows a failed run; the next run's window covers its hour.
      if ((t >= nowSec - 7 * HOUR && t < nowSec - 6 * HOUR) || rnd() < 0.015) {
        const error = 'Stripe API unreachable: connect ETIMEDOUT (retried 5 times)';
        insertRun.run(iso(from), iso(t), 'failed', iso(start), iso(start + 31), null, 0, error, 9);
        continue;
      }
      succeededRun(insertRun, rnd, { from, t, start, launchDay }, open);
      from = t;
    }
    // What was still open was worked off this morning, before the demo's own entries came in.
    for (const q of open.splice(0)) counted(q, Math.max(q.created + 60, nowSec - 40 * 60));
  })();
  db.close();
  return { runs, reviews };
}
