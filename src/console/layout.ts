import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { ConsoleRole, SignedIn } from '../app/console-accounts.js';
import { formatAmount } from '../reconcile/money.js';
import { hasRole } from './security.js';

/** A piece of HTML built with hono's `html` tag: every interpolated value is escaped. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** Each page with the least role its route requires: the header links only to what the account may open. */
const NAV: readonly { path: string; label: string; role: ConsoleRole }[] = [
  { path: '/review', label: 'Review queue', role: 'viewer' },
  { path: '/lookup', label: 'Lookup', role: 'viewer' },
  { path: '/adjust', label: 'Adjust', role: 'support' },
  { path: '/runs', label: 'Runs', role: 'admin' },
  { path: '/audit', label: 'Audit', role: 'admin' },
];

/** The hidden field every POST form carries (see csrf in security.ts). */
export function csrfField(s: SignedIn): Html {
  return html`<input type="hidden" name="csrf" value="${s.csrfToken}" />`;
}

function header(s: SignedIn | null): Html {
  if (!s) return html`<header><span class="brand">stripe-credits console</span></header>`;
  return html`<header>
    <span class="brand">stripe-credits console</span>
    <nav>${NAV.filter((n) => hasRole(s, n.role)).map((n) => html`<a href="${n.path}">${n.label}</a>`)}</nav>
    <span class="who">${s.account.name} (${s.account.role})</span>
    <form method="post" action="/logout">${csrfField(s)}<button class="plain" type="submit">Sign out</button></form>
  </header>`;
}

/** A whole page: the header with the navigation and the signed-in person, then `body`. */
export function page(title: string, s: SignedIn | null, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · stripe-credits</title>
        <link rel="stylesheet" href="/console.css" />
      </head>
      <body>
        ${header(s)}
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

export function message(kind: 'error' | 'ok', text: string): Html {
  return html`<p class="box ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

/** Amounts in minor units, shown with their currency as the CLI shows them (zero-decimal currencies whole). */
export function money(amount: number | null, currency: string | null): string {
  return formatAmount(amount, currency);
}

/** A user id as a link to that user's page (balance and entries). */
export function userLink(id: string): Html {
  return html`<a href="/user/${encodeURIComponent(id)}"><code>${id}</code></a>`;
}
