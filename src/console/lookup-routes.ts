import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { SignedIn } from '../app/console-accounts.js';
import type { LedgerEntry } from '../app/corrections.js';
import { lookup, type LookupResult, type PaymentLookup, type UserLookup } from '../app/lookup.js';
import { money, page, userLink, type Html } from './layout.js';
import { hasRole } from './security.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

/** Lookup renders what `stripe-credits lookup` returns (app/lookup.ts): Stripe's side beside the ledger's. */

function searchForm(q: string): Html {
  return html`<form class="filters" method="get" action="/lookup">
    <div>
      <label for="q">Payment (cs_…, pi_…), user id, email or Stripe customer</label>
      <input id="q" name="q" type="search" value="${q}" required />
    </div>
    <button type="submit">Look up</button>
  </form>`;
}

/** Ledger entries as `stripe-credits balance` lists them; each user id links to that user's page. */
export function entriesTable(entries: readonly LedgerEntry[]): Html {
  if (entries.length === 0) return html`<p class="muted">No ledger entries.</p>`;
  return html`<table>
    <tr>
      <th>Entry</th>
      <th>When (UTC)</th>
      <th>User</th>
      <th>Credits</th>
      <th>Kind</th>
      <th>Payment</th>
      <th>Amount</th>
      <th>By</th>
      <th>Reason</th>
    </tr>
    ${entries.map(
      (e) =>
        html`<tr>
          <td>${e.id}</td>
          <td>${e.createdAt.slice(0, 16).replace('T', ' ')}</td>
          <td>${userLink(e.userId)}</td>
          <td class="num">${e.credits > 0 ? `+${e.credits}` : e.credits}</td>
          <td>${e.kind}</td>
          <td class="id">${e.paymentKey ?? ''}</td>
          <td class="num">${money(e.amount, e.currency)}</td>
          <td class="actor">${e.actor}</td>
          <td>${e.reason ?? ''}</td>
        </tr>`,
    )}
  </table>`;
}

function assignLink(s: SignedIn, paymentKey: string): Html {
  return hasRole(s, 'support')
    ? html`<a class="button" href="/assign?payment=${encodeURIComponent(paymentKey)}">Assign…</a>`
    : html``;
}

function reassignLink(paymentKey: string): Html {
  return html`<a class="button plain" href="/reassign?payment=${encodeURIComponent(paymentKey)}"
    >Move to another user…</a
  >`;
}

function paymentView(r: PaymentLookup, s: SignedIn): Html {
  const chain = r.chain;
  return html`<div class="box">
      <dl>
        <dt>Payment</dt>
        <dd class="id">${r.paymentKey}</dd>
        <dt>Checkout Session</dt>
        <dd class="id">${r.checkoutSession ?? ''}</dd>
        <dt>PaymentIntent</dt>
        <dd class="id">${r.paymentIntent ?? ''}</dd>
        <dt>Amount</dt>
        <dd>${money(r.amount, r.currency)}</dd>
        <dt>Paid at (UTC)</dt>
        <dd>${r.paidAt ?? ''}</dd>
        <dt>Stripe says</dt>
        <dd>${r.stripe ? r.stripe.state : 'not found'}</dd>
        <dt>The rules say</dt>
        <dd>${chain ? chain.summary : ''}</dd>
        <dt>Ledger</dt>
        <dd>
          ${
            r.ledger.credited
              ? html`credited to user ${userLink(r.ledger.holderUserId ?? '')} (${r.ledger.credits} credits)`
              : 'not credited'
          }
        </dd>
        <dt>Review</dt>
        <dd>${r.review ? `${r.review.status}: ${r.review.reason}` : 'not in the queue'}</dd>
      </dl>
      <p><strong>${r.verdict}</strong></p>
      ${!r.ledger.credited && r.stripe?.state === 'paid' ? assignLink(s, r.paymentKey) : ''}
      ${r.ledger.credited && hasRole(s, 'support') ? reassignLink(r.paymentKey) : ''}
    </div>
    <h2>Ledger entries</h2>
    ${entriesTable(r.ledger.entries)}`;
}

function userView(r: UserLookup, s: SignedIn): Html {
  const u = r.user;
  return html`<div class="box">
      <dl>
        <dt>User</dt>
        <dd>
          ${u ? html`${userLink(u.id)} ${u.email ?? ''} ${u.name ? `"${u.name}"` : ''}` : 'no user has this email'}
        </dd>
        <dt>Balance</dt>
        <dd class="balance"><strong>${r.balance}</strong> credits</dd>
        <dt>Emails</dt>
        <dd>${r.emails.join(', ')}</dd>
        <dt>Stripe customers</dt>
        <dd>${r.customerIds.join(', ')}</dd>
      </dl>
      ${r.notes.map((n) => html`<p>${n}</p>`)}
      ${u && hasRole(s, 'support') ? html`<a class="button plain" href="/adjust?user=${encodeURIComponent(u.id)}">Adjust…</a>` : ''}
    </div>
    <h2>Payments</h2>
    ${
      r.payments.length === 0
        ? html`<p class="muted">No payments found.</p>`
        : html`<table>
            <tr>
              <th>Paid at (UTC)</th>
              <th>Payment</th>
              <th>Amount</th>
              <th>Stripe</th>
              <th>Ledger</th>
              <th>Note</th>
              <th></th>
            </tr>
            ${r.payments.map(
              (p) =>
                html`<tr>
                  <td>${(p.paidAt ?? '').slice(0, 16).replace('T', ' ')}</td>
                  <td><a class="id" href="/lookup?q=${encodeURIComponent(p.paymentKey)}">${p.paymentKey}</a></td>
                  <td class="num">${money(p.amount, p.currency)}</td>
                  <td>${p.stripe ?? ''}</td>
                  <td>
                    ${p.ledger ? html`user ${userLink(p.ledger.holderUserId)}, ${p.ledger.credits} credits` : 'not credited'}
                  </td>
                  <td>${p.note ?? ''}</td>
                  <td>${!p.ledger && p.stripe === 'paid' ? assignLink(s, p.paymentKey) : ''}</td>
                </tr>`,
            )}
          </table>`
    }
    <h2>Ledger entries</h2>
    ${entriesTable(r.entries)}`;
}

function resultView(r: LookupResult, s: SignedIn): Html {
  return r.kind === 'payment' ? paymentView(r, s) : userView(r, s);
}

/** GET /lookup?q=…: one search box; the answer as `lookup` gives it. */
export function lookupRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get('/lookup', async (c) => {
    const s = c.get('session');
    const q = (c.req.query('q') ?? '').trim();
    const result = q === '' ? null : await lookup({ ...deps.support, query: q });
    return c.html(page('Lookup', s, html`${searchForm(q)}${result ? resultView(result, s) : ''}`));
  });
}
