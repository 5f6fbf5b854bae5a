import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { SignedIn } from '../app/console-accounts.js';
import type { ReviewItem } from '../app/corrections.js';
import { listReviewQueue, type ReversalReviewItem } from '../app/reversal-review.js';
import { requireRole } from './auth-routes.js';
import { money, page, userLink, type Html } from './layout.js';
import { hasRole } from './security.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

const REASONS = [
  'no_user',
  'conflicting_ids',
  'ambiguous_customer',
  'ambiguous_email',
  'conflicting_emails',
  'invalid_credits',
  'amount_too_low',
  'no_credit_rule',
];
const AGES = [0, 1, 7, 30];
const DAY_MS = 86_400_000;

interface Filters {
  reason: string;
  olderThanDays: number;
}

function filtersOf(q: Record<string, string>): Filters {
  const days = Number(q.olderThan ?? 0);
  return {
    reason: REASONS.includes(q.reason ?? '') ? q.reason! : '',
    olderThanDays: AGES.includes(days) ? days : 0,
  };
}

/** The queue as the page shows it: the filters applied, newest payment first. */
export function filterReview(items: readonly ReviewItem[], f: Filters, now: number): ReviewItem[] {
  const cutoff = now - f.olderThanDays * DAY_MS;
  return items
    .filter((i) => (f.reason === '' || i.reason === f.reason) && Date.parse(i.queuedAt) <= cutoff)
    .sort((a, b) => b.paidAt.localeCompare(a.paidAt));
}

function filterForm(f: Filters): Html {
  return html`<form class="filters" method="get" action="/review">
    <div>
      <label for="reason">Reason</label>
      <select id="reason" name="reason">
        <option value="">any</option>
        ${REASONS.map((r) => html`<option value="${r}" ${r === f.reason ? 'selected' : ''}>${r}</option>`)}
      </select>
    </div>
    <div>
      <label for="olderThan">Waiting</label>
      <select id="olderThan" name="olderThan">
        ${AGES.map(
          (d) =>
            html`<option value="${d}" ${d === f.olderThanDays ? 'selected' : ''}>
              ${d === 0 ? 'any time' : `more than ${d} day${d === 1 ? '' : 's'}`}
            </option>`,
        )}
      </select>
    </div>
    <button type="submit" class="plain">Filter</button>
  </form>`;
}

function candidates(i: ReviewItem): Html {
  if (i.candidates.length === 0) return html`<span class="muted">none</span>`;
  return html`${i.candidates.map((u) => html`<div>${userLink(u.id)} ${u.email ?? ''} ${u.name ? `"${u.name}"` : ''}</div>`)}`;
}

function paymentRow(i: ReviewItem, s: SignedIn): Html {
  return html`<tr>
    <td class="when">${i.paidAt.slice(0, 16).replace('T', ' ')}</td>
    <td><a class="id" href="/lookup?q=${encodeURIComponent(i.paymentKey)}">${i.paymentKey}</a></td>
    <td class="num">${money(i.amount, i.currency)}</td>
    <td>${i.reason}${i.detail ? html`<div class="muted">${i.detail}</div>` : ''}</td>
    <td>
      ${i.emails.join(', ')}${i.name ? html`<div class="muted">name "${i.name}" (hint)</div>` : ''}
      ${i.unknownIds.length ? html`<div class="muted">unknown ids ${i.unknownIds.join(', ')}</div>` : ''}
    </td>
    <td>${candidates(i)}</td>
    <td class="actions">
      ${
        hasRole(s, 'support')
          ? html`<a class="button" href="/assign?payment=${encodeURIComponent(i.paymentKey)}">Assign…</a>
              <a class="button plain" href="/dismiss?payment=${encodeURIComponent(i.paymentKey)}">Dismiss…</a>`
          : html`<span class="muted">read only</span>`
      }
    </td>
  </tr>`;
}

function reversalActions(i: ReversalReviewItem, s: SignedIn): Html {
  if (!hasRole(s, 'support')) return html`<span class="muted">read only</span>`;
  const id = encodeURIComponent(i.id);
  return html`<a class="button" href="/reversal?id=${id}&amp;action=reverse">Reverse…</a>
    <a class="button plain" href="/reversal?id=${id}&amp;action=dismiss">Dismiss…</a>`;
}

function reversalsTable(items: readonly ReversalReviewItem[], s: SignedIn): Html {
  if (items.length === 0) return html``;
  return html`<h2>Refunds and disputes of credited payments (${items.length})</h2>
    <table>
      <tr>
        <th>When (UTC)</th>
        <th>Refund/dispute</th>
        <th>Payment</th>
        <th>Reason</th>
        <th>User</th>
        <th>Credits</th>
        <th></th>
      </tr>
      ${items.map(
        (i) =>
          html`<tr>
            <td class="when">${i.occurredAt.slice(0, 16).replace('T', ' ')}</td>
            <td class="id">${i.id}</td>
            <td class="id">${i.paymentKey}</td>
            <td>${i.reason}</td>
            <td>${i.userId ? userLink(i.userId) : ''}</td>
            <td class="num">${i.credits}</td>
            <td class="actions">${reversalActions(i, s)}</td>
          </tr>`,
      )}
    </table>`;
}

/** GET /review: the open queue, filtered, with one action per payment. */
export function reviewRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get('/review', requireRole('viewer'), async (c) => {
    const s = c.get('session');
    const f = filtersOf(c.req.query());
    const queue = await listReviewQueue(deps.support);
    const items = filterReview(queue.payments, f, Date.now());
    const body = html`${filterForm(f)}
      <p>
        ${items.length} of ${queue.payments.length} open payment${queue.payments.length === 1 ? '' : 's'}, newest first.
      </p>
      ${
        items.length === 0
          ? html`<p class="box ok">Nothing here needs a person.</p>`
          : html`<table>
              <tr>
                <th>Paid at (UTC)</th>
                <th>Payment</th>
                <th>Amount</th>
                <th>Reason</th>
                <th>Stripe saw</th>
                <th>Candidates</th>
                <th></th>
              </tr>
              ${items.map((i) => paymentRow(i, s))}
            </table>`
      }
      ${reversalsTable(queue.reversals, s)}`;
    return c.html(page('Review queue', s, body));
  });
}
