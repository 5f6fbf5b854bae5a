import Table from 'cli-table3';
import type { Ora } from 'ora';
import { jsonItem } from '../app/decision-json.js';
import type { ReconcileReport } from '../app/reconcile.js';
import { reversalItem } from '../app/reversals.js';
import type { PaymentDecision, ReversalDecision } from '../reconcile/types.js';
import { formatAmount } from '../reconcile/money.js';
import { isoSeconds } from '../when.js';
import { shortId } from './short-id.js';
import { termText } from './term-text.js';

export { jsonItem };

/** Where a command writes: stdout for its result, stderr for progress and errors. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Where a password is read from (`console user add`); the process's stdin by default. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** The working directory relative paths are read from (default: the process's). */
  cwd?: string;
}

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/**
 * Whether a terminal says how wide it is. One that reports 0 columns (`docker exec -t`, `script`, some
 * CI runners) would have ora divide by zero and clear an infinity of lines, synchronously: the run
 * would never end and no signal would be handled.
 */
function hasWidth(stream: { columns?: number }): boolean {
  return typeof stream.columns === 'number' && Number.isFinite(stream.columns) && stream.columns > 0;
}

/**
 * A line for a log (a cron job appends stderr to a file): the UTC time to the second first, so the
 * log says when each thing happened. The one-line error of main.ts's reportError has no time: people
 * and scripts match on its `stripe-credits: ` start.
 */
export function logLine(text: string, at: Date = new Date()): string {
  return `${at.toISOString().slice(0, 19)}Z ${text}\n`;
}

/**
 * A spinner on stderr only when it is a terminal that reports its width and neither --json nor --quiet; --verbose logs lines
 * instead. The spinner's module is loaded only then, and without holding up the start: it shows the
 * latest message once it is there.
 */
export function progressReporter(io: Io, flags: OutputFlags): { update(msg: string): void; stop(): void } {
  if (!flags.json && !flags.quiet && io.stderr.isTTY && !flags.verbose && hasWidth(io.stderr as { columns?: number })) {
    const stream = io.stderr as NodeJS.WriteStream;
    let spinner: Ora | null = null;
    let text = '';
    let stopped = false;
    const stop = () => {
      stopped = true;
      stream.off('resize', onResize);
      spinner?.stop();
    };
    // A terminal resized to no width mid-run: the spinner goes, for the reason it never starts on one.
    const onResize = () => {
      if (!hasWidth(stream)) stop();
    };
    stream.on('resize', onResize);
    void import('ora').then(({ default: ora }) => {
      if (stopped) return;
      spinner = ora({ stream, isEnabled: true, color: io.env.NO_COLOR ? false : 'cyan', text }).start();
    });
    return {
      update: (m) => {
        text = m;
        if (spinner) spinner.text = m;
      },
      stop,
    };
  }
  if (flags.verbose) return { update: (m) => io.stderr.write(logLine(m)), stop: () => {} };
  return { update: () => {}, stop: () => {} };
}

/** The JSON document of a run but its items (which come last). */
export function reconcileJsonHead(r: ReconcileReport) {
  return {
    mode: r.mode,
    source: r.source,
    window: { since: isoSeconds(r.window.since), until: isoSeconds(r.window.until) },
    counts: r.counts,
    creditsWritten: r.creditsWritten,
    runId: r.runId,
    newInReview: r.newInReview,
    notes: r.notes,
    requests: r.requests,
    reversals: r.reversals.map(reversalItem),
  };
}

/** Bytes of output gathered before each write. */
const JSON_CHUNK = 64 * 1024;

/**
 * Writes the JSON document of a run (SPEC "reconcile --json") item by item, waiting for the
 * stream to drain: the output of a large run is never one string in memory. The bytes are those of
 * `JSON.stringify({ ...reconcileJsonHead(r), items }, null, 2)` followed by a newline.
 */
export async function writeReconcileJson(out: NodeJS.WritableStream, r: ReconcileReport): Promise<void> {
  const head = JSON.stringify(reconcileJsonHead(r), null, 2);
  // The head ends with "\n}"; the items go in before that brace, indented two levels.
  let chunk = `${head.slice(0, -2)},\n  "items": [`;
  let any = false;
  for (const d of r.decisions) {
    chunk += `${any ? ',' : ''}\n    ${JSON.stringify(jsonItem(d), null, 2).replace(/\n/g, '\n    ')}`;
    any = true;
    if (chunk.length >= JSON_CHUNK) {
      await writeChunk(out, chunk);
      chunk = '';
    }
  }
  await writeChunk(out, `${chunk}${any ? '\n  ]' : ']'}\n}\n`);
}

/** Writes, and waits for the stream to take more when its buffer is full. */
function writeChunk(out: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(text)) return resolve();
    const done = (e?: unknown) => {
      out.off('drain', done);
      out.off('error', done);
      out.off('close', done);
      if (e instanceof Error) reject(e);
      else resolve();
    };
    out.on('drain', done);
    out.on('error', done);
    out.on('close', done);
  });
}

/** No colours (output is often a log file) and no rule between rows (long tables stay readable). */
function plainTable(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
}

const STATUS_LABEL: Record<PaymentDecision['status'], string> = {
  credited: 'credited',
  would_credit: 'would credit',
  already_credited: 'already credited',
  needs_review: 'needs review',
  pending: 'pending',
  skipped: 'skipped',
};

export function summaryLine(r: ReconcileReport): string {
  const c = r.counts;
  const parts = [
    r.mode === 'dry-run'
      ? `${c.wouldCredit} would be credited (${r.creditsPlanned} credits)`
      : `${c.credited} credited (${r.creditsWritten} credits)`,
    `${c.alreadyCredited} already credited`,
    `${c.needsReview} need review${r.newInReview.length ? ` (${r.newInReview.length} new)` : ''}`,
    `${c.pending} pending`,
    `${c.skipped} skipped`,
  ];
  const taken = reversalSummary(r.reversals);
  return `${c.payments} payments: ${parts.join(', ')}.${taken}${r.mode === 'dry-run' ? ' Dry run: nothing was written.' : ''}`;
}

/** The reversals that change or wait for something; those already written or skipped are only counted in JSON. */
const SHOWN_REVERSAL: Partial<Record<ReversalDecision['status'], string>> = {
  reversed: 'taken back',
  would_reverse: 'would take back',
  reinstated: 'given back',
  would_reinstate: 'would give back',
  needs_review: 'needs review',
};

/** " Refunds and disputes: …" when any changed or waits; nothing otherwise (a run's line as before reversals). */
function reversalSummary(reversals: readonly ReversalDecision[]): string {
  const by = new Map<string, { n: number; credits: number }>();
  for (const d of reversals) {
    const label = SHOWN_REVERSAL[d.status];
    if (!label) continue;
    const c = by.get(label) ?? { n: 0, credits: 0 };
    by.set(label, { n: c.n + 1, credits: c.credits + Math.abs(d.credits) });
  }
  if (by.size === 0) return '';
  const parts = [...by].map(([label, c]) => `${c.n} ${label} (${c.credits} credits)`);
  return ` Refunds and disputes: ${parts.join(', ')}.`;
}

/** Who lost or got back which credits, one line per refund or dispute that changed or waits. */
export function renderReversals(reversals: readonly ReversalDecision[]): string {
  const shown = reversals.filter((d) => SHOWN_REVERSAL[d.status]);
  if (shown.length === 0) return '';
  const lines = ['Refunds and disputes:'];
  for (const d of shown) {
    const what = d.source === 'refund' ? 'refund' : 'dispute';
    const credits = Math.abs(d.credits);
    const whom = d.kind === 'reinstatement' ? `to user ${d.userId ?? '?'}` : `from user ${d.userId ?? '?'}`;
    const why = d.reason ? ` [${d.reason}]` : '';
    lines.push(`- ${d.id} (${what} of ${d.paymentKey}): ${SHOWN_REVERSAL[d.status]} ${credits} credits ${whom}${why}`);
  }
  return `${lines.map(termText).join('\n')}\n`;
}

export function renderReconcile(r: ReconcileReport): string {
  const how = r.source === 'events' ? 'events' : 'payments';
  const head = `${r.mode === 'dry-run' ? 'Dry run' : 'Reconcile'}: ${how} from ${isoSeconds(r.window.since)} to ${isoSeconds(r.window.until)}`;
  const lines = [head];
  const t = plainTable(['Paid at (UTC)', 'Payment', 'User', 'Matched by', 'Credits', 'Amount', 'Status', 'Reason']);
  for (const d of r.decisions) {
    t.push([
      isoSeconds(d.paidAt).slice(0, 16).replace('T', ' '),
      termText(shortId(d.paymentKey)),
      termText(d.userId ?? ''),
      d.matchedBy ?? '',
      d.credits === null ? '' : String(d.credits),
      formatAmount(d.amount, d.currency),
      STATUS_LABEL[d.status],
      termText(d.reason ?? ''),
    ]);
  }
  if (t.length > 0) lines.push(t.toString());
  const taken = renderReversals(r.reversals);
  if (taken) lines.push(taken.trimEnd());
  lines.push(summaryLine(r));
  return `${lines.join('\n')}\n`;
}

const REVIEW_HINT: Record<string, string> = {
  no_user: 'no user found by id, customer or email',
  conflicting_ids: 'the ids on the payment point at different users',
  ambiguous_customer: 'several users have this Stripe customer id',
  ambiguous_email: 'several users share this email',
  conflicting_emails: 'the emails on the payment point at different users',
  invalid_credits: 'the credits metadata is not a positive whole number, or exceeds maxCreditsPerPayment',
  amount_too_low:
    'the amount paid is below its credits times credits.minAmountPerCredit (a tiny payment or a 100% coupon)',
  no_credit_rule: 'no credit rule applies (no credits metadata, unknown price, no amount rule for the currency)',
};

/** What a person should look at: the payments that need review, with what is known about each. */
export function renderAttention(decisions: Iterable<PaymentDecision>): string {
  const review: PaymentDecision[] = [];
  for (const d of decisions) if (d.status === 'needs_review') review.push(d);
  if (review.length === 0) return 'Nothing needs a person.\n';
  const lines = [review.length === 1 ? '1 payment needs a person:' : `${review.length} payments need a person:`];
  for (const d of review) {
    const facts = [
      formatAmount(d.amount, d.currency),
      d.emails.length ? `emails ${d.emails.join(', ')}` : null,
      d.name ? `name on card/checkout "${d.name}" (a hint, never matched)` : null,
      d.unknownIds.length ? `unknown user ids ${d.unknownIds.join(', ')}` : null,
      d.candidateUserIds.length ? `candidates: users ${d.candidateUserIds.join(', ')}` : null,
    ].filter(Boolean);
    // The whole id on a line of its own, to copy; what it means below it: the detail (the value at
    // fault) says more than the reason's general hint, so it replaces it.
    lines.push(`- ${d.paymentKey} [${d.reason}]`);
    lines.push(`    ${d.detail ?? REVIEW_HINT[d.reason ?? ''] ?? ''}`);
    lines.push(`    ${facts.join('; ')}`);
  }
  // One element per line: what is in an element (a name, an email from Stripe) stays on its line.
  return `${lines.map(termText).join('\n')}\n`;
}
