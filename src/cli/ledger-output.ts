import Table from 'cli-table3';
import type { LedgerEntry, UserInfo } from '../app/corrections.js';
import { formatAmount } from '../reconcile/money.js';
import { ShortIds } from './short-id.js';
import { termText } from './term-text.js';
import type { CommandContext } from './context.js';

/** How the ledger commands (review, assign, adjust, balance, lookup) print: tables of entries, users, JSON. */

/** Same look as reconcile's tables: no colours, no rule between rows. */
export function table(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
}

/** A user as one line of text: the app's users chose their names and emails, so they are shown escaped (see term-text.ts). */
export function userLabel(u: UserInfo): string {
  const bits = [u.email, u.name ? `"${u.name}"` : null].filter(Boolean);
  return termText(bits.length ? `user ${u.id} (${bits.join(', ')})` : `user ${u.id}`);
}

export function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/** 2026-11-20T14:03:11.000Z → 2026-11-20 14:03 */
export function shortTime(iso: string | null): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '';
}

/**
 * A user's or a payment's ledger entries. Long payment ids are shortened through `ids`; the caller
 * prints its legend (or not, when the full id is already on the page).
 */
export function entriesTable(
  entries: readonly LedgerEntry[],
  opts: { withUser?: boolean; ids?: ShortIds } = {},
): string {
  const ids = opts.ids ?? new ShortIds();
  const t = table([
    'Entry',
    'When (UTC)',
    ...(opts.withUser ? ['User'] : []),
    'Kind',
    'Credits',
    'Payment',
    'Amount',
    'By',
    'Reason',
  ]);
  for (const e of entries) {
    t.push([
      String(e.id),
      shortTime(e.createdAt),
      ...(opts.withUser ? [termText(e.userId)] : []),
      e.kind,
      signed(e.credits),
      termText(e.paymentKey === null ? '' : ids.show(e.paymentKey)),
      formatAmount(e.amount, e.currency),
      e.runId !== null ? `run ${e.runId}` : termText(e.actor),
      termText(e.reason ?? ''),
    ]);
  }
  return t.toString();
}

export function writeJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
