import { lookup, type PaymentLookup, type UserLookup } from '../../app/lookup.js';
import { resolveSettings } from '../../config.js';
import { formatAmount } from '../../reconcile/money.js';
import { entriesTable, shortTime, table, userLabel, writeJson } from '../ledger-output.js';
import { ShortIds, shortId } from '../short-id.js';
import { termText } from '../term-text.js';
import type { CommonFlags, CommandContext } from '../context.js';

function metadata(m: Record<string, string>): string {
  const keys = Object.keys(m);
  return keys.length ? keys.map((k) => `${k}=${JSON.stringify(m[k])}`).join(' ') : '(none)';
}

/** `credited`: the ledger has the payment, so the chain's "would credit" only says it agrees. */
function chainStatus(status: string, reason: string | null, credited = false): string {
  const label = status === 'would_credit' ? (credited ? 'matches' : 'would credit') : status.replace('_', ' ');
  return reason ? `${label} (${reason})` : label;
}

export function renderPaymentLookup(r: PaymentLookup): string {
  // Each whole id once, here, to copy; below and in the tables a long one is shortened.
  const ids = [
    r.checkoutSession ? `Checkout Session${r.checkoutSession === r.paymentKey ? '' : ` ${r.checkoutSession}`}` : null,
    r.paymentIntent ? `PaymentIntent${r.paymentIntent === r.paymentKey ? '' : ` ${r.paymentIntent}`}` : null,
  ].filter(Boolean);
  return joinLines([
    `Payment ${r.paymentKey}${ids.length ? ` (${ids.join(', ')})` : ''}`,
    `  ${r.verdict}`,
    '',
    ...stripeSays(r.stripe),
    '',
    ...chainSays(r.chain),
    '',
    ...ledgerHolds(r),
    ...reversalsSay(r),
  ]);
}

/** Only when Stripe has any: a payment without refunds or disputes prints as it always did. */
function reversalsSay(r: PaymentLookup): string[] {
  if (r.reversals.length === 0) return [];
  return ['', 'Refunds and disputes:', ...r.reversals.flatMap((v) => reversalLines(v, r.currency))];
}

/** A refund or dispute (`of` its payment, in a user's list), then what the ledger and the review queue hold for it. */
function reversalLines(
  v: Omit<UserLookup['reversals'][number], 'paymentIntent' | 'currency'>,
  currency: string | null,
  of?: string,
): string[] {
  const said =
    v.status === null
      ? 'not read from Stripe'
      : `${formatAmount(v.amount, currency)}, ${v.status.replace(/_/g, ' ')}, created ${shortTime(v.created)}`;
  const out = [`  ${v.source} ${v.id}${of ? ` of ${of}` : ''}: ${said}`];
  for (const e of v.entries)
    out.push(
      `    ${e.kind} ${e.credits > 0 ? '+' : ''}${e.credits} credits, user ${e.userId}, ${shortTime(e.createdAt)}`,
    );
  const q = v.review;
  if (q) {
    const how =
      q.status === 'open'
        ? 'open'
        : `${q.status}${q.resolvedBy ? ` by ${q.resolvedBy}` : ''}${q.resolvedAt ? ` on ${shortTime(q.resolvedAt)}` : ''}${q.resolution ? `: ${q.resolution}` : ''}`;
    out.push(
      `    review ${how}: ${q.credits ?? '?'} credits at stake, user ${q.userId ?? '(none)'}, queued ${shortTime(q.queuedAt)}`,
    );
  }
  if (v.entries.length === 0 && !q) out.push('    the ledger holds nothing for it');
  return out;
}

function stripeSays(stripe: PaymentLookup['stripe']): string[] {
  if (!stripe) return ['Stripe says:', '  no such Checkout Session or PaymentIntent in this account and mode'];
  const out = ['Stripe says:'];
  const s = stripe.checkoutSession;
  if (s) {
    out.push(
      `  Checkout Session ${shortId(s.id)}: ${s.status}, mode ${s.mode}, payment_status ${s.paymentStatus}, ${formatAmount(s.amountTotal, s.currency)}, created ${shortTime(s.created)}`,
      `    client_reference_id ${s.clientReferenceId ?? '(none)'}; customer ${s.customer ?? '(none)'}; metadata ${metadata(s.metadata)}`,
      `    customer_details.email ${s.customerDetailsEmail ?? '(none)'}; customer_email ${s.customerEmail ?? '(none)'}${s.name ? `; name "${s.name}" (a hint for people, never matched)` : ''}`,
    );
  }
  const pi = stripe.paymentIntent;
  if (pi) {
    const refund = pi.refunded
      ? 'fully refunded'
      : pi.amountRefunded > 0
        ? `${formatAmount(pi.amountRefunded, pi.currency)} refunded`
        : 'not refunded';
    out.push(
      `  PaymentIntent ${pi.id}: ${pi.status}, ${formatAmount(pi.amount, pi.currency)} (received ${formatAmount(pi.amountReceived, pi.currency)}), ${refund}, created ${shortTime(pi.created)}`,
      `    customer ${pi.customer ?? '(none)'}; receipt_email ${pi.receiptEmail ?? '(none)'}; metadata ${metadata(pi.metadata)}`,
    );
  }
  out.push(`  => ${stripe.state === 'not_a_payment' ? `not a payment: ${stripe.notPayment}` : stripe.state}`);
  return out;
}

function chainSays(chain: PaymentLookup['chain']): string[] {
  const out = ['How the chain matches it (ids, then customer, then email; never the name):'];
  if (!chain) return [...out, '  (not a payment: not matched)'];
  if (chain.steps.length === 0) out.push('  the payment carries no user id, customer or email');
  chain.steps.forEach((s, i) => out.push(`  ${i + 1}. ${s.field} ${s.value} -> ${s.note}`));
  out.push(`  => ${chain.summary}`);
  const credits =
    chain.credits !== null
      ? `; ${chain.credits} credits${chain.creditRule ? ` by the ${chain.creditRule} rule` : ''}`
      : '';
  out.push(
    `  => reconcile would decide: ${chainStatus(chain.status, chain.reason)}${chain.detail ? `: ${chain.detail}` : ''}${chain.userId ? ` for user ${chain.userId}` : ''}${credits}`,
  );
  return out;
}

/** The ledger's entries, then what else the tool and the app hold about the payment. */
function ledgerHolds(r: PaymentLookup): string[] {
  const out = ['The ledger holds:'];
  if (r.ledger.entries.length === 0) out.push('  nothing for this payment');
  else {
    out.push(...entriesTable(r.ledger.entries, { withUser: true }).replace(/^/gm, '  ').split('\n'));
    out.push(
      `  net ${r.ledger.netCredits} credits${r.ledger.credited ? `, now with user ${r.ledger.holderUserId}` : ''}`,
    );
  }
  if (r.appLedger) {
    out.push(
      `The app's table ${r.appLedger.table}: ${r.appLedger.refs.length ? `holds ${r.appLedger.refs.join(' and ')} (credited there)` : 'holds no reference to this payment'}`,
    );
  }
  if (r.baseline)
    out.push(
      `Baseline: handled by other means (payments up to ${shortTime(r.baseline.until)}; recorded ${shortTime(r.baseline.baselinedAt)} by ${r.baseline.actor}); reconcile never credits it`,
    );
  if (r.review) out.push(reviewLine(r.review));
  if (r.record) {
    const rec = r.record;
    const by = rec.matchedBy === 'assign' ? ' (by assign)' : rec.matchedBy ? ` (matched by ${rec.matchedBy})` : '';
    out.push(
      `The tool's record: ${chainStatus(rec.status, rec.reason)}${rec.userId ? `, user ${rec.userId}${by}` : ''}; last run ${rec.lastRunId ?? '(none)'}, updated ${shortTime(rec.lastSeenAt)}`,
    );
  }
  return out;
}

function reviewLine(v: NonNullable<PaymentLookup['review']>): string {
  const how =
    v.status === 'open'
      ? 'open'
      : `${v.status}${v.resolvedBy ? ` by ${v.resolvedBy}` : ''}${v.resolvedAt ? ` on ${shortTime(v.resolvedAt)}` : ''}${v.resolution ? `: ${v.resolution}` : ''}`;
  return `Review queue: ${v.reason}${v.detail ? ` (${v.detail})` : ''}, queued ${shortTime(v.queuedAt)}, ${how}${v.candidates.length ? `; candidates ${v.candidates.map((c) => c.id).join(', ')}` : ''}`;
}

/**
 * `out` holds one line per element (tables are pushed line by line), so escaping each element
 * keeps what Stripe or the app's users wrote (a name, metadata, an id) on its own line.
 */
function joinLines(out: readonly string[]): string {
  return `${out.map(termText).join('\n')}\n`;
}

export function renderUserLookup(r: UserLookup): string {
  const out: string[] = [];
  const ids = new ShortIds();
  out.push(
    r.user
      ? `${userLabel(r.user)}: balance ${r.balance} credits`
      : `No user has the email ${r.query}: showing the payments Stripe has for it`,
  );
  const sources = [
    r.emails.length ? `Checkout Sessions by email ${r.emails.join(', ')}` : null,
    r.customerIds.length ? `by customer ${r.customerIds.join(', ')}` : null,
    "the tool's record of decided payments",
    r.user ? 'the ledger' : null,
  ].filter(Boolean);
  out.push(`Payments (${r.payments.length}), from ${sources.join(', ')}:`);
  if (r.payments.length === 0) out.push('  none found');
  else {
    const t = table(['Paid at (UTC)', 'Payment', 'Amount', 'Stripe', 'Chain says', 'Ledger', 'Note']);
    for (const p of r.payments) {
      t.push([
        shortTime(p.paidAt),
        termText(ids.show(p.paymentKey)),
        formatAmount(p.amount, p.currency),
        termText(p.stripe ?? '(not re-read)'),
        p.chain
          ? `${chainStatus(p.chain.status, p.chain.reason, p.ledger !== null)}${p.chain.userId ? `\n${termText(`user ${p.chain.userId}${p.chain.matchedBy ? ` by ${p.chain.matchedBy}` : ''}`)}` : ''}`
          : '',
        termText(p.ledger ? `+${p.ledger.credits} user ${p.ledger.holderUserId}` : 'not credited'),
        termText(p.note ?? ''),
      ]);
    }
    out.push(...t.toString().split('\n'));
  }
  if (r.reversals.length > 0) {
    out.push(`Refunds and disputes (${r.reversals.length}, newest first):`);
    for (const v of r.reversals) out.push(...reversalLines(v, v.currency, ids.show(v.paymentIntent)));
  }
  if (r.user) {
    out.push(`Ledger entries of user ${r.user.id} (newest first):`);
    out.push(...(r.entries.length ? entriesTable(r.entries, { ids }) : '  none').split('\n'));
  }
  out.push(...ids.legend());
  for (const n of r.notes) out.push(`Note: ${n}`);
  return joinLines(out);
}

export async function lookupCommand(ctx: CommandContext, query: string, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const r = await lookup({ settings, cwd: ctx.cwd, query });
  if (flags.json) writeJson(ctx, r);
  else ctx.io.stdout.write(r.kind === 'payment' ? renderPaymentLookup(r) : renderUserLookup(r));
  return 0;
}
