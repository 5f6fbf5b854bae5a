import type { Hono } from 'hono';
import { html } from 'hono/html';
import { previewReassign, type ReassignPreview } from '../app/assign-preview.js';
import type { SignedIn } from '../app/console-accounts.js';
import { adjustLimit, consoleAssign } from '../app/console-actions.js';
import { csrfField, message, page, userLink, type Html } from './layout.js';
import { field, previewedWrite } from './previewed-write.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

/** `assign --reassign` from the console: move a credited payment to another user (a reversal and a credit, every entry kept). */

interface ReassignForm {
  payment: string;
  user: string;
  reason: string;
}

function reassignForm(v: Record<string, unknown>): ReassignForm {
  return { payment: field(v, 'payment'), user: field(v, 'user'), reason: field(v, 'reason') };
}

function hidden(s: SignedIn, f: ReassignForm): Html {
  return html`${csrfField(s)}<input type="hidden" name="payment" value="${f.payment}" />
    <input type="hidden" name="user" value="${f.user}" /><input type="hidden" name="reason" value="${f.reason}" />`;
}

function formPage(s: SignedIn, f: ReassignForm, note: Html | null): Html {
  return page(
    `Move ${f.payment} to another user`,
    s,
    html`${note ?? ''}
      <form class="box" method="post" action="/reassign/preview">
        ${csrfField(s)}
        <input type="hidden" name="payment" value="${f.payment}" />
        <p>
          <label for="user">New user (id or email)</label
          ><input id="user" name="user" type="text" value="${f.user}" required />
        </p>
        <p>
          <label for="reason">Reason (recorded with both entries)</label
          ><input id="reason" name="reason" type="text" value="${f.reason}" required />
        </p>
        <button type="submit">Preview</button> <a href="/lookup?q=${encodeURIComponent(f.payment)}">Cancel</a>
      </form>`,
  );
}

function previewPage(s: SignedIn, f: ReassignForm, p: ReassignPreview, limit: number | null): Html {
  if (p.unchanged)
    return formPage(
      s,
      f,
      message('error', `${p.paymentKey} is already with user ${p.from}: there is nothing to move.`),
    );
  const u = p.to;
  const over = limit !== null && p.credits > limit;
  return page(
    `Move ${p.paymentKey}: confirm`,
    s,
    html`${over ? message('error', `More than your limit of ${limit} credits per action: confirming will be refused.`) : ''}
      <div class="box">
        <p>This will write two ledger entries (the ones already written stay):</p>
        <table>
          <tr>
            <th>User</th>
            <th>Credits</th>
          </tr>
          <tr>
            <td>${userLink(p.from)}</td>
            <td class="num"><strong>-${p.credits}</strong></td>
          </tr>
          <tr>
            <td>${userLink(u.id)} ${u.email ?? ''} ${u.name ? `"${u.name}"` : ''}</td>
            <td class="num"><strong>+${p.credits}</strong></td>
          </tr>
        </table>
        <dl>
          <dt>By</dt>
          <dd>${s.account.name}</dd>
          <dt>Reason</dt>
          <dd>${f.reason}</dd>
        </dl>
        <form method="post" action="/reassign">
          ${hidden(s, f)}
          <button type="submit">Confirm: move ${p.credits} credits</button>
          <a href="/lookup?q=${encodeURIComponent(f.payment)}">Cancel</a>
        </form>
      </div>`,
  );
}

/** A form, a preview of the two entries, then the CLI's write (assignPayment with reassign). */
export function reassignRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  previewedWrite(app, {
    path: '/reassign',
    role: 'support',
    fields: reassignForm,
    form: formPage,
    preview: async (s, f) =>
      previewPage(
        s,
        f,
        await previewReassign({ ...deps.support, payment: f.payment, user: f.user }),
        adjustLimit(s.account.role, deps.support.settings.config),
      ),
    write: async (c, s, f) => {
      const r = await consoleAssign({
        ...deps.support,
        role: s.account.role,
        ...{ payment: f.payment, user: f.user, reason: f.reason, actor: s.account.name },
        ...{ credits: null, reassign: true },
      });
      const text =
        r.outcome === 'unchanged'
          ? `${r.paymentKey} is already with user ${r.user.id}: nothing written.`
          : `Moved ${r.credits} credits of ${r.paymentKey} from user ${r.previousUserId} to user ${r.user.id} (ledger entries ${r.entries.map((e) => e.id).join(', ')}), by ${r.actor}: ${r.reason}.`;
      return c.html(
        page(
          'Moved',
          s,
          html`${message('ok', text)}
            <p>
              <a href="/user/${encodeURIComponent(r.user.id)}">See user ${r.user.id}</a> ·
              <a href="/lookup?q=${encodeURIComponent(r.paymentKey)}">Back to the payment</a>
            </p>`,
        ),
      );
    },
  });
}
