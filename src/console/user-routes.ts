import type { Hono } from 'hono';
import { html } from 'hono/html';
import { userBalance } from '../app/corrections.js';
import { entriesTable } from './lookup-routes.js';
import { page } from './layout.js';
import { hasRole } from './security.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

/** GET /user/ID: one user's balance and entries, newest first, as `stripe-credits balance USER` shows them. */
export function userRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get('/user/:user', async (c) => {
    const s = c.get('session');
    const r = await userBalance({ ...deps.support, user: c.req.param('user') });
    const u = r.user;
    const own = r.balanceSource === 'SUM(credit_ledger.credits)';
    const body = html`<div class="box">
        <dl>
          <dt>User</dt>
          <dd><code>${u.id}</code> ${u.email ?? ''} ${u.name ? `"${u.name}"` : ''}</dd>
          <dt>Balance</dt>
          <dd class="balance"><strong>${r.balance}</strong> credits</dd>
          <dt>Read from</dt>
          <dd><code>${r.balanceSource}</code></dd>
        </dl>
        ${hasRole(s, 'support') ? html`<a class="button plain" href="/adjust?user=${encodeURIComponent(u.id)}">Adjust…</a>` : ''}
        <a class="button plain" href="/lookup?q=${encodeURIComponent(u.id)}">Payments in Stripe…</a>
      </div>
      <h2>${own ? 'Ledger entries' : 'Entries written by stripe-credits (its own record)'}</h2>
      ${entriesTable(r.entries)}`;
    return c.html(page(`User ${u.id}`, s, body));
  });
}
