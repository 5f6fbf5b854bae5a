import { dismissReview, requireText, type ReviewItem } from '../../app/corrections.js';
import {
  dismissReversalReview,
  isReversalId,
  listReviewQueue,
  reverseReview,
  type ReversalReviewItem,
} from '../../app/reversal-review.js';
import { resolveSettings } from '../../config.js';
import { UsageError } from '../../errors.js';
import { formatAmount } from '../../reconcile/money.js';
import { shortTime, signed, table, writeJson } from '../ledger-output.js';
import { ShortIds } from '../short-id.js';
import { termText } from '../term-text.js';
import type { CommonFlags, CommandContext } from '../context.js';

const REASON_TEXT: Record<string, string> = {
  no_user: 'no user by id, customer or email',
  conflicting_ids: 'ids point at different users',
  ambiguous_customer: 'several users have this customer',
  ambiguous_email: 'several users share the email',
  conflicting_emails: 'emails point at different users',
  invalid_credits: 'credits metadata invalid or over the cap',
  amount_too_low: 'paid less than its credits cost (minAmountPerCredit)',
  no_credit_rule: 'no credit rule applies',
};

/** One line per fact, each escaped before the lines are joined (see term-text.ts). */
function stripeSaw(i: ReviewItem): string {
  return [
    i.emails.length ? i.emails.join(', ') : null,
    i.name ? `name "${i.name}" (hint)` : null,
    i.unknownIds.length ? `unknown ids ${i.unknownIds.join(', ')}` : null,
  ]
    .filter((x): x is string => Boolean(x))
    .map(termText)
    .join('\n');
}

/** The entry's detail (the value at fault) if it has one, in two lines to keep the column narrow; else what the reason means. */
function reasonText(i: ReviewItem): string {
  if (i.detail) {
    // The last " is ": the value (quoted, first) may hold one of its own.
    const text = termText(i.detail);
    const at = text.lastIndexOf(' is ');
    return at < 0 ? text : `${text.slice(0, at)}\n${text.slice(at + 1)}`;
  }
  return REASON_TEXT[i.reason] ?? '';
}

function candidates(i: ReviewItem): string {
  return i.candidates
    .map((u) => termText([u.id, u.email, u.name ? `"${u.name}"` : null].filter(Boolean).join(' ')))
    .join('\n');
}

export function renderReview(items: readonly ReviewItem[]): string {
  if (items.length === 0) return 'The review queue is empty: nothing needs a person.\n';
  const t = table(['Paid at (UTC)', 'Payment', 'Amount', 'Reason', 'Stripe saw', 'Candidates', 'Queued']);
  const ids = new ShortIds();
  for (const i of items) {
    t.push([
      shortTime(i.paidAt),
      termText(ids.show(i.paymentKey)),
      formatAmount(i.amount, i.currency),
      `${i.reason}\n${reasonText(i)}`,
      stripeSaw(i),
      candidates(i),
      shortTime(i.queuedAt),
    ]);
  }
  return [
    `${items.length} payment${items.length === 1 ? '' : 's'} need${items.length === 1 ? 's' : ''} a person (oldest first):`,
    t.toString(),
    ...ids.legend().map(termText),
    'Next: stripe-credits lookup PAYMENT  ·  assign PAYMENT --user USER --reason TEXT  ·  review dismiss PAYMENT --reason TEXT',
    '',
  ].join('\n');
}

const REVERSAL_REASON: Record<string, string> = {
  refunded_after_credit: 'refunded after it was credited',
  disputed_after_credit: 'disputed after it was credited',
};

/** The refunds and disputes waiting for a person, after the payments (nothing when there are none). */
export function renderReversalReview(items: readonly ReversalReviewItem[]): string {
  if (items.length === 0) return '';
  const t = table(['When (UTC)', 'Refund/dispute', 'Payment', 'Paid', 'Reason', 'User', 'Credits']);
  const ids = new ShortIds();
  for (const i of items) {
    t.push([
      shortTime(i.occurredAt),
      termText(ids.show(i.id)),
      termText(ids.show(i.paymentKey)),
      formatAmount(i.amount, i.currency),
      `${i.reason}\n${REVERSAL_REASON[i.reason] ?? ''}`,
      termText(i.userId ?? ''),
      signed(i.credits),
    ]);
  }
  const n = items.length;
  return [
    `${n} refund${n === 1 ? '' : 's'} or dispute${n === 1 ? '' : 's'} of credited payments need${n === 1 ? 's' : ''} a person (oldest first):`,
    t.toString(),
    ...ids.legend().map(termText),
    'Next: stripe-credits review reverse ID --reason TEXT (take the credits back)  ·  review dismiss ID --reason TEXT (keep them)',
    '',
  ].join('\n');
}

export async function reviewList(ctx: CommandContext, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const { payments: items, reversals } = await listReviewQueue({ settings, cwd: ctx.cwd });
  if (flags.json) writeJson(ctx, { open: items.length, entries: items, reversals });
  else if (items.length === 0 && reversals.length > 0) ctx.io.stdout.write(renderReversalReview(reversals));
  else
    ctx.io.stdout.write(`${renderReview(items)}${reversals.length > 0 ? '\n' : ''}${renderReversalReview(reversals)}`);
  return 0;
}

export async function reviewDismiss(
  ctx: CommandContext,
  payment: string,
  flags: CommonFlags & { reason?: string },
): Promise<number> {
  const reason = requireText(flags.reason, '--reason');
  const actor = requireText(flags.actor ?? ctx.defaultActor, '--actor');
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  if (isReversalId(payment))
    return reversalDismissed(
      ctx,
      flags,
      await dismissReversalReview({ settings, cwd: ctx.cwd, id: payment, reason, actor }),
    );
  const r = await dismissReview({ settings, cwd: ctx.cwd, payment, reason, actor });
  const i = r.item;
  if (flags.json) {
    writeJson(ctx, {
      outcome: r.outcome,
      paymentKey: i.paymentKey,
      status: i.status,
      dismissedBy: i.resolvedBy,
      dismissedAt: i.resolvedAt,
      reason: i.resolution,
      entry: i,
    });
  } else if (r.outcome === 'dismissed') {
    ctx.io.stdout.write(
      `${termText(`Dismissed ${i.paymentKey} (${i.reason}, ${formatAmount(i.amount, i.currency)}) without crediting it, by ${i.resolvedBy}: ${i.resolution}`)}\n`,
    );
    ctx.io.stdout.write(
      `${termText(`The entry is kept; reconcile does not reopen it. To credit it after all: stripe-credits assign ${i.paymentKey} --user USER --reason TEXT`)}\n`,
    );
  } else {
    ctx.io.stdout.write(
      `${termText(`${i.paymentKey} was already dismissed by ${i.resolvedBy} on ${shortTime(i.resolvedAt)}: ${i.resolution}. Nothing changed.`)}\n`,
    );
  }
  return 0;
}

function reversalDismissed(
  ctx: CommandContext,
  flags: CommonFlags,
  r: Awaited<ReturnType<typeof dismissReversalReview>>,
): number {
  const i = r.item;
  if (flags.json) {
    writeJson(ctx, {
      outcome: r.outcome,
      id: i.id,
      status: i.status,
      dismissedBy: i.resolvedBy,
      dismissedAt: i.resolvedAt,
      reason: i.resolution,
      entry: i,
    });
  } else if (r.outcome === 'dismissed') {
    ctx.io.stdout.write(
      `${termText(`Dismissed ${i.id} (${i.reason}, payment ${i.paymentKey}) without reversing it: user ${i.userId ?? '?'} keeps ${-i.credits} credits. By ${i.resolvedBy}: ${i.resolution}`)}\n`,
    );
    ctx.io.stdout.write('The entry is kept; later runs never reverse it.\n');
  } else {
    ctx.io.stdout.write(
      `${termText(`${i.id} was already dismissed by ${i.resolvedBy} on ${shortTime(i.resolvedAt)}: ${i.resolution}. Nothing changed.`)}\n`,
    );
  }
  return 0;
}

/** `review reverse ID --reason TEXT`: a person takes a refunded or disputed payment's credits back. */
export async function reviewReverse(
  ctx: CommandContext,
  id: string,
  flags: CommonFlags & { reason?: string },
): Promise<number> {
  const reason = requireText(flags.reason, '--reason');
  const actor = requireText(flags.actor ?? ctx.defaultActor, '--actor');
  if (!isReversalId(id))
    throw new UsageError(`not a refund or dispute id: '${id}'`, 'expected re_… or dp_… (see: stripe-credits review)');
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const r = await reverseReview({ settings, cwd: ctx.cwd, id, reason, actor });
  const i = r.item;
  if (flags.json) {
    writeJson(ctx, {
      outcome: 'reversed',
      id: i.id,
      paymentKey: i.paymentKey,
      userId: r.userId,
      credits: r.credits,
      actor,
      reason,
      entry: i,
    });
  } else {
    ctx.io.stdout.write(
      `${termText(`Reversed ${i.id} (${i.reason}, payment ${i.paymentKey}): ${signed(r.credits)} credits for user ${r.userId}, by ${actor}: ${reason}`)}\n`,
    );
    ctx.io.stdout.write(`${termText(`See the balance with: stripe-credits balance ${r.userId}`)}\n`);
  }
  return 0;
}
