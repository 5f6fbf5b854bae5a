import type { Kysely } from 'kysely';
import type { Settings } from '../config.js';
import { UsageError } from '../errors.js';
import { migrateToLatest, openDatabase, parseDbUrl, toolTablesExist } from '../ledger/db.js';
import { findCredited, insertBaseline, isCreditedIn, WRITE_BATCH } from '../ledger/ledger.js';
import { acquireRunLock, advanceCursor, type HeldLock } from '../ledger/lock.js';
import { verifyAppTables } from '../ledger/app-ledger.js';
import type { Database } from '../ledger/schema.js';
import { SESSION_LOOKBACK_SECONDS } from '../reconcile/select.js';
import { IdSet } from '../plan/id-table.js';
import type { Payment } from '../reconcile/types.js';
import { fetchPayments } from '../stripe/window-sweep.js';
import type { Progress } from '../stripe/reader.js';
import { isoSeconds } from '../when.js';
import { stripeReaderFor } from './stripe-reader.js';

export interface BaselineReport {
  mode: 'apply' | 'dry-run';
  until: number;
  /** Successful payments paid before `until`. */
  payments: number;
  /** Recorded as already handled now (dry run: would be). */
  baselined: number;
  /** Already credited in the ledger, or baselined before. */
  alreadyHandled: number;
  /** Not settled yet: left for reconcile to credit when they are. */
  pending: number;
  /** Where incremental reconcile runs continue from (null on a dry run, or if a cursor was already later). */
  cursor: number | null;
}

export interface BaselineOptions {
  settings: Settings;
  cwd: string;
  until: number;
  dryRun: boolean;
  actor: string;
  now: number;
  progress?: Progress;
  /** Stops it (SIGINT, SIGTERM) between two transactions; the lock is released. */
  signal?: AbortSignal;
}

/**
 * `baseline --until WHEN`: records every successful payment paid before WHEN as already handled,
 * without crediting, so that an app whose past payments were credited by means the tool cannot
 * see starts from a clean line. Reconcile never credits a baselined payment, and continues from WHEN.
 */
export async function baseline(opts: BaselineOptions): Promise<BaselineReport> {
  const { settings, dryRun, until } = opts;
  if (until > opts.now)
    throw new UsageError(`--until (${isoSeconds(until)}) is in the future: a baseline records payments already made`);
  const progress = opts.progress ?? (() => {});
  const open = await openDatabase(parseDbUrl(settings.db, opts.cwd), { readonly: dryRun });
  const { db } = open;
  let lock: HeldLock | null = null;
  try {
    await verifyAppTables(db, settings.config);
    const tables = (await toolTablesExist(db)) || !dryRun;
    const reader = stripeReaderFor(settings, { signal: opts.signal });
    if (!dryRun) {
      await migrateToLatest(db);
      lock = await acquireRunLock(open, `${opts.actor} (baseline)`);
    }
    const report: BaselineReport = {
      mode: dryRun ? 'dry-run' : 'apply',
      until,
      payments: 0,
      baselined: 0,
      alreadyHandled: 0,
      pending: 0,
      cursor: null,
    };
    // From the start of Stripe time (sessions are listed from 24 hours before the window).
    const window = { since: SESSION_LOOKBACK_SECONDS, until };
    await fetchPayments(
      reader,
      window,
      settings.config,
      async (batch) => {
        await recordBatch(db, opts, tables, report, batch);
        progress(`${report.payments} payments read`);
      },
      { progress, idSet: () => new IdSet() },
    );
    opts.signal?.throwIfAborted();
    // Never past Stripe's now: a clock running ahead would put the cursor after payments not yet read.
    const stripeNow = reader.stripeTime(opts.now);
    if (!dryRun && (await advanceCursor(db, window, stripeNow))) report.cursor = Math.min(until, stripeNow);
    return report;
  } finally {
    await lock?.release().catch(() => {});
    await open.close();
  }
}

/** One batch of payments read: counted, and those nothing handled yet recorded as baselined (unless a dry run). */
async function recordBatch(
  db: Kysely<Database>,
  opts: BaselineOptions,
  toolTables: boolean,
  report: BaselineReport,
  batch: Payment[],
): Promise<void> {
  const settled = batch.filter((p) => p.session?.paymentStatus !== 'unpaid');
  report.pending += batch.length - settled.length;
  report.payments += batch.length;
  const handled = await findCredited(db, settled, opts.settings.config.ledger, { toolTables });
  const fresh = settled.filter((p) => !isCreditedIn(handled, p));
  report.alreadyHandled += settled.length - fresh.length;
  if (opts.dryRun) {
    report.baselined += fresh.length;
    return;
  }
  for (let i = 0; i < fresh.length; i += WRITE_BATCH) {
    opts.signal?.throwIfAborted();
    const part = fresh.slice(i, i + WRITE_BATCH);
    report.baselined += await db
      .transaction()
      .execute((trx) => insertBaseline(trx, part, { until: opts.until, actor: opts.actor }));
  }
}
