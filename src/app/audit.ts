import type { Kysely } from 'kysely';
import { keyIsLive, type Settings } from '../config.js';
import { UsageError } from '../errors.js';
import {
  auditEntryBatches,
  auditLedger,
  resolvedAmong,
  samePaymentEntries,
  type AuditLedger,
} from '../ledger/audit.js';
import { auditEntryById, resolveAuditEntry, type AuditResolution } from '../ledger/audit-resolve.js';
import { migrateToLatest, openDatabase, parseDbUrl, toolTablesExist } from '../ledger/db.js';
import { verifyAppTables } from '../ledger/app-ledger.js';
import { readReversalState, type ReversalLookup } from '../ledger/reversals.js';
import type { Database } from '../ledger/schema.js';
import { loadUserDirectory, type UsersTable } from '../ledger/users.js';
import { auditCounts, auditEntry } from '../reconcile/audit.js';
import { sessionPayment, standalonePayment } from '../reconcile/select.js';
import type { AuditEntry, AuditFinding, Payment, StripeLookup, Window } from '../reconcile/types.js';
import { reversalsOf, sweepReversals, type SweptReversals } from '../stripe/fetch-reversals.js';
import { fetchPaymentById } from '../stripe/payment-by-id.js';
import type { RateLimits } from '../stripe/rate-limit.js';
import { mapLimit, type Progress, type StripeReader } from '../stripe/reader.js';
import type { ScanOptions } from '../stripe/scan.js';
import { fetchPayments } from '../stripe/window-sweep.js';
import { isoSeconds } from '../when.js';
import { planReadOnly } from './corrections.js';
import { stripeReaderFor } from './stripe-reader.js';

/**
 * `audit` (SPEC "Audit"): every purchase entry of a window checked against Stripe, read-only; and
 * `audit resolve`, which checks one entry the same way before a person's resolution is written.
 */

export interface AuditOptions {
  settings: Settings;
  cwd: string;
  /** Unix seconds; default 30 days before `now`. */
  since?: number;
  until?: number;
  now: number;
  progress?: Progress;
  rateLimits?: RateLimits;
  scan?: ScanOptions;
}

export interface AuditReport {
  window: Window;
  counts: { entries: number; backed: number; findings: number };
  findings: AuditFinding[];
  /** Stripe requests made. */
  requests: number;
}

const DEFAULT_DAYS = 30;

/**
 * How far before `since` the sweep starts. The window is on the entry's time, and an entry is
 * written after its payment: by the webhook within seconds, by a scheduled reconcile within its
 * interval (a day at most for a daily run). An entry written later than that (a first run over old
 * payments) is fetched on its own, which costs a request, not a miss.
 */
export const AUDIT_LOOKBACK_SECONDS = 24 * 3600;

/** Everything an audit reads, kept together for the phases. */
interface Audit {
  db: Kysely<Database>;
  reader: StripeReader;
  ledger: AuditLedger;
  settings: Settings;
  users: UsersTable;
  live: boolean;
  progress: Progress;
}

export async function audit(o: AuditOptions): Promise<AuditReport> {
  const live = keyIsLive(o.settings.stripeApiKey());
  // By default up to and including this second: an entry written just now (a reconcile a moment
  // ago) is audited, not left out by the window's exclusive end.
  const until = o.until ?? o.now + 1;
  const since = o.since ?? until - DEFAULT_DAYS * 86400;
  if (since >= until)
    throw new UsageError(`--since (${isoSeconds(since)}) must be before --until (${isoSeconds(until)})`);
  const open = await openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: true });
  try {
    const a = await begin(open.db, o, live);
    const entries: AuditEntry[] = [];
    for await (const batch of auditEntryBatches(a.db, a.ledger, { since, until })) entries.push(...batch);
    a.progress(`${entries.length} purchase entries from ${isoSeconds(since)} to ${isoSeconds(until)}`);
    const from = since - AUDIT_LOOKBACK_SECONDS;
    // Refunds and disputes up to this second, whatever the window's end: an entry is unbacked by
    // a refund made after --until all the same.
    const reversalsUntil = Math.max(until, o.now + 1);
    const { found, swept } = await sweep(a, entries, { since: from, until }, reversalsUntil, o.scan);
    const perEntry = await judge(a, entries, await lookupAll(a, entries, found), swept);
    return {
      window: { since, until },
      counts: auditCounts(perEntry),
      findings: perEntry.flat(),
      requests: a.reader.requests,
    };
  } finally {
    await open.close();
  }
}

async function begin(
  db: Kysely<Database>,
  o: Pick<AuditOptions, 'settings' | 'progress' | 'rateLimits'>,
  live: boolean,
): Promise<Audit> {
  const users = await verifyAppTables(db, o.settings.config);
  const ledger = await auditLedger(db, o.settings.config.ledger);
  const reader = stripeReaderFor(o.settings, o.rateLimits ? { rateLimits: o.rateLimits } : {});
  return { db, reader, ledger, settings: o.settings, users, live, progress: o.progress ?? (() => {}) };
}

/**
 * One pass over the window, as reconcile reads it: the payments (only those an entry names are
 * kept) and, side by side, the refunds and disputes created in it.
 */
async function sweep(
  a: Audit,
  entries: readonly AuditEntry[],
  window: Window,
  reversalsUntil: number,
  scan: ScanOptions | undefined,
): Promise<{ found: Map<string, StripeLookup>; swept: SweptReversals }> {
  const named = new Set(entries.map((e) => e.paymentRef));
  const found = new Map<string, StripeLookup>();
  const keep = (batch: Payment[]) => {
    for (const p of batch) {
      const ids = [p.session?.id, p.paymentIntent?.id, p.session?.paymentIntentId];
      if (!ids.some((id) => id && named.has(id))) continue;
      const lookup = {
        found: 'object',
        session: p.session,
        paymentIntent: p.paymentIntent,
        paysInvoice: p.paysInvoice,
      } as const;
      for (const id of ids) if (id) found.set(id, lookup);
    }
    return Promise.resolve();
  };
  const opts = scan ? { scan } : {};
  const [, swept] = await Promise.all([
    fetchPayments(a.reader, window, a.settings.config, keep, opts),
    sweepReversals(a.reader, { since: window.since, until: reversalsUntil }, opts),
  ]);
  return { found, swept };
}

/** Stripe's answer for every entry: the sweep's, else one request for the entries it did not find. */
async function lookupAll(
  a: Audit,
  entries: readonly AuditEntry[],
  found: Map<string, StripeLookup>,
): Promise<Map<string, StripeLookup>> {
  const other = a.live ? 'cs_test_' : 'cs_live_';
  const ask = [...new Set(entries.map((e) => e.paymentRef))].filter((r) => !found.has(r));
  // A session id of the other mode cannot be read with this key: no request (auditEntry says other_mode).
  for (const ref of ask) if (ref.startsWith(other)) found.set(ref, { found: 'none' });
  const rest = ask.filter((r) => !found.has(r));
  if (rest.length > 0) a.progress(`${rest.length} entries not in the sweep: reading them one by one`);
  await mapLimit(rest, 8, async (ref) => found.set(ref, await lookupOne(a.reader, ref, a.settings)));
  return found;
}

const OTHER_MODE = /similar object exists in (test|live) mode/i;

/** One object by id: a 404 (`none`, or `other_mode` when Stripe says the other mode has it), or the object. */
export async function lookupOne(reader: StripeReader, ref: string, settings: Settings): Promise<StripeLookup> {
  if (!/^(cs_(test|live)_|pi_)[A-Za-z0-9]+$/.test(ref)) return { found: 'none' };
  let otherMode = false;
  const fetched = await fetchPaymentById(reader, ref, settings.config, (e) => {
    otherMode = OTHER_MODE.test(e instanceof Error ? e.message : String(e));
  });
  if (!fetched) return { found: otherMode ? 'other_mode' : 'none' };
  return {
    found: 'object',
    session: fetched.session,
    paymentIntent: fetched.paymentIntent,
    paysInvoice: fetched.payment?.paysInvoice ?? false,
  };
}

/** The payment an object stands for, for the users and reversals it needs (as auditEntry selects it). */
function paymentOf(l: StripeLookup): Payment | null {
  if (l.found !== 'object') return null;
  if (l.session) return sessionPayment(l.session, l.paymentIntent);
  if (l.paymentIntent?.status === 'succeeded') return standalonePayment(l.paymentIntent, l.paysInvoice);
  return null;
}

/**
 * The rules' verdict on each entry: the other entries of its payment, its refunds and disputes
 * (none read for a PaymentIntent the sweep covers), the reversal entries written, the users today.
 */
async function judge(
  a: Audit,
  entries: readonly AuditEntry[],
  lookups: Map<string, StripeLookup>,
  swept: SweptReversals | undefined,
): Promise<AuditFinding[][]> {
  const payments = new Map<string, Payment>();
  for (const e of entries) {
    const p = paymentOf(lookups.get(e.paymentRef)!);
    if (p) payments.set(e.paymentRef, p);
  }
  const distinct = [...new Map([...payments.values()].map((p) => [p.paymentKey, p])).values()];
  const pairs = [...lookups.entries()].map(([ref, l]) => idPair(ref, l));
  const same = await samePaymentEntries(a.db, a.ledger, pairs);
  const intents = distinct.flatMap((p) =>
    p.paymentIntent ? [{ id: p.paymentIntent.id, created: p.paymentIntent.created }] : [],
  );
  const reversals = await reversalsOf(
    a.reader,
    intents,
    swept ? { swept, progress: a.progress } : { progress: a.progress },
  );
  const state = await readReversalState(
    a.db,
    distinct.map((p) => reversalLookup(p, reversals)),
    a.settings.config.ledger,
    {
      toolTables: await toolTablesExist(a.db),
    },
  );
  const users = await loadUserDirectory(a.db, a.users, a.settings.config.match, distinct);
  const ctx = {
    rules: a.settings.config,
    users,
    customerColumn: a.settings.config.users.stripeCustomerId !== null,
    livemode: a.live,
    isDismissed: (id: string) => state.dismissed.has(id),
  };
  return entries.map((entry) => {
    const stripe = lookups.get(entry.paymentRef)!;
    const p = payments.get(entry.paymentRef);
    const of = p?.paymentIntent ? reversals.get(p.paymentIntent.id) : undefined;
    return auditEntry(
      {
        entry,
        stripe,
        samePayment: same.get(entry.paymentRef) ?? [],
        refunds: of?.refunds ?? [],
        disputes: of?.disputes ?? [],
        reversals: p ? (state.written.get(p.paymentKey) ?? []) : [],
      },
      ctx,
    );
  });
}

function idPair(ref: string, l: StripeLookup): { checkoutSession: string | null; paymentIntent: string | null } {
  const session = l.found === 'object' ? (l.session?.id ?? null) : ref.startsWith('cs_') ? ref : null;
  const pi = l.found === 'object' ? (l.paymentIntent?.id ?? l.session?.paymentIntentId ?? null) : null;
  return { checkoutSession: session, paymentIntent: pi ?? (ref.startsWith('pi_') ? ref : null) };
}

function reversalLookup(
  p: Payment,
  reversals: Map<string, { refunds: { id: string }[]; disputes: { id: string }[] }>,
): ReversalLookup {
  const of = p.paymentIntent ? reversals.get(p.paymentIntent.id) : undefined;
  return {
    paymentKey: p.paymentKey,
    checkoutSession: p.session?.id ?? null,
    paymentIntent: p.paymentIntent?.id ?? null,
    reversalIds: [...(of?.refunds ?? []), ...(of?.disputes ?? [])].map((r) => r.id),
  };
}

// ---------------------------------------------------------------------------------------------
// audit resolve

export interface ResolveOptions {
  settings: Settings;
  cwd: string;
  entryId: string;
  reason: string;
  actor: string;
  reverse: boolean;
}

export interface ResolveReport {
  resolution: AuditResolution;
  /** The findings the entry had when it was resolved. */
  findings: AuditFinding[];
}

/** What `audit resolve` would close: the entry as the ledger holds it, and what Stripe says of it now. */
export interface ResolvePlan {
  entry: AuditEntry;
  findings: AuditFinding[];
}

/**
 * Checks the entry against Stripe as audit does, on a database already open (read-only or not):
 * refused, as the write would be, when it is no purchase entry, was resolved already, or has no finding.
 */
async function planResolve(a: Audit, entryId: string): Promise<ResolvePlan> {
  const entry = await auditEntryById(a.db, a.ledger, entryId);
  if (!entry)
    throw new UsageError(`no purchase entry ${entryId}`, "use an entryId that 'stripe-credits audit --json' prints");
  if ((await resolvedAmong(a.db, a.ledger, [entry.entryId])).size > 0)
    throw new UsageError(`entry ${entry.entryId} was resolved already; nothing written`);
  const lookups = new Map([[entry.paymentRef, await lookupOne(a.reader, entry.paymentRef, a.settings)]]);
  const [findings] = await judge(a, [entry], lookups, undefined);
  if (!findings || findings.length === 0)
    throw new UsageError(`entry ${entry.entryId} has no finding: Stripe backs it as it is; nothing written`);
  return { entry, findings };
}

/** The plan of `audit resolve ENTRY` on a read-only connection: what the console shows before a person confirms. */
export function previewResolve(o: Pick<ResolveOptions, 'settings' | 'cwd' | 'entryId'>): Promise<ResolvePlan> {
  const live = keyIsLive(o.settings.stripeApiKey());
  return planReadOnly(o, async (open) => planResolve(await begin(open.db, o, live), o.entryId));
}

/**
 * Plans the resolution (planResolve), then writes it: resolveAuditEntry reads the entry again, and
 * the resolution's primary key refuses a second one written since the plan.
 */
export async function resolveFinding(o: ResolveOptions): Promise<ResolveReport> {
  const live = keyIsLive(o.settings.stripeApiKey());
  const open = await openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: false });
  try {
    const a = await begin(open.db, o, live);
    const { findings } = await planResolve(a, o.entryId);
    await migrateToLatest(a.db);
    const resolution = await resolveAuditEntry(a.db, a.ledger, o.settings.config, o);
    return { resolution, findings };
  } finally {
    await open.close();
  }
}
