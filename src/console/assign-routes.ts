import type { Hono } from 'hono';
import { html } from 'hono/html';
import { previewAssign, type AssignPreview } from '../app/assign-preview.js';
import type { SignedIn } from '../app/console-accounts.js';
import { adjustLimit, consoleAssign } from '../app/console-actions.js';
import { csrfField, message, money, page, type Html } from './layout.js';
import { field, previewedWrite } from './previewed-write.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

interface AssignForm {
  payment: string;
  user: string;
  reason: string;
}

function assignForm(v: Record<string, unknown>): AssignForm {
  return { payment: field(v, 'payment'), user: field(v, 'user'), reason: field(v, 'reason') };
}

function formPage(s: SignedIn, f: AssignForm, note: Html | null): Html {
  return page(
    `Assign ${f.payment}`,
    s,
    html`${note ?? ''}
      <form class="box" method="post" action="/assign/preview">
        ${csrfField(s)}
        <input type="hidden" name="payment" value="${f.payment}" />
        <p>
          <label for="user">User (id or email)</label
          ><input id="user" name="user" type="text" value="${f.user}" required />
        </p>
        <p>
          <label for="reason">Reason (recorded with the entry)</label
          ><input id="reason" name="reason" type="text" value="${f.reason}" required />
        </p>
        <button type="submit">Preview</button> <a href="/review">Cancel</a>
      </form>`,
  );
}

const SOURCE: Record<AssignPreview['creditSource'], string> = {
  metadata: 'by the credits metadata',
  prices: 'by the price map',
  unit_amount: 'by the amount rule',
  override: 'as given',
};

function previewPage(s: SignedIn, f: AssignForm, p: AssignPreview, limit: number | null): Html {
  const u = p.user;
  const over = limit !== null && p.credits > limit;
  return page(
    `Assign ${p.paymentKey}: confirm`,
    s,
    html`${over ? message('error', `More than your limit of ${limit} credits per action: confirming will be refused.`) : ''}
      <div class="box">
        <p>This will write one ledger entry:</p>
        <dl>
          <dt>Payment</dt>
          <dd class="id">${p.paymentKey}</dd>
          <dt>Paid</dt>
          <dd>${money(p.amount, p.currency)}</dd>
          <dt>Credits</dt>
          <dd><strong>+${p.credits}</strong> ${SOURCE[p.creditSource]}</dd>
          <dt>To user</dt>
          <dd><code>${u.id}</code> ${u.email ?? ''} ${u.name ? `"${u.name}"` : ''}</dd>
          <dt>By</dt>
          <dd>${s.account.name}</dd>
          <dt>Reason</dt>
          <dd>${f.reason}</dd>
        </dl>
        <p>and close the payment's review entry, if it has one.</p>
        <form method="post" action="/assign">
          ${csrfField(s)}
          <input type="hidden" name="payment" value="${f.payment}" />
          <input type="hidden" name="user" value="${f.user}" />
          <input type="hidden" name="reason" value="${f.reason}" />
          <button type="submit">Confirm: credit ${p.credits}</button> <a href="/review">Cancel</a>
        </form>
      </div>`,
  );
}

/** Assign a payment to a user: a form, a preview of what it will write, then the write (assignPayment, as the CLI's assign). */
export function assignRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  previewedWrite(app, {
    path: '/assign',
    role: 'support',
    fields: assignForm,
    form: formPage,
    preview: async (s, f) => {
      const p = await previewAssign({ ...deps.support, payment: f.payment, user: f.user });
      return previewPage(s, f, p, adjustLimit(s.account.role, deps.support.settings.config));
    },
    write: async (c, s, f) => {
      const r = await consoleAssign({
        ...deps.support,
        ...{ role: s.account.role, payment: f.payment, user: f.user, reason: f.reason, actor: s.account.name },
        ...{ credits: null, reassign: false },
      });
      const entry = r.entries[0];
      const text = `Credited ${r.credits} credits to user ${r.user.id} for ${r.paymentKey}${entry ? ` (ledger entry ${entry.id})` : ''}, by ${r.actor}: ${r.reason}.`;
      return c.html(
        page(
          'Assigned',
          s,
          html`${message('ok', text)}
            <p>${r.reviewClosed ? 'Its review entry is closed.' : 'It was not in the review queue.'}</p>
            <p>
              <a href="/user/${encodeURIComponent(r.user.id)}">See user ${r.user.id}</a> ·
              <a href="/review">Back to the queue</a>
            </p>`,
        ),
      );
    },
  });
}
