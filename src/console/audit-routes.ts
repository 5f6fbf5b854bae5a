import type { Hono } from 'hono';
import { html } from 'hono/html';
import { audit, previewResolve, resolveFinding, type ResolvePlan } from '../app/audit.js';
import type { SignedIn } from '../app/console-accounts.js';
import type { AuditFinding } from '../reconcile/types.js';
import { requireRole } from './auth-routes.js';
import { csrfField, message, page, type Html } from './layout.js';
import { field, previewedWrite } from './previewed-write.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

/** Audit (admin): what `stripe-credits audit` finds over its default window, and `audit resolve` with a preview. */

/** Only what names the resolution: its credits and user are the ledger's, read by the plan, never the form's. */
interface ResolveForm {
  entry: string;
  reverse: boolean;
  reason: string;
}

function findingRow(f: AuditFinding): Html {
  const q = (reverse: boolean) => `/audit/resolve?entry=${encodeURIComponent(f.entryId)}&reverse=${reverse ? 1 : 0}`;
  return html`<tr>
    <td class="id">${f.entryId}</td>
    <td><code>${f.userId}</code></td>
    <td class="num">${f.credits}</td>
    <td class="id">${f.paymentRef}</td>
    <td>
      ${f.code}
      <div class="muted">${f.detail}</div>
    </td>
    <td>${f.expected.userId ?? 'none'}, ${f.expected.credits}</td>
    <td>
      <a class="button plain" href="${q(false)}">Accept…</a>
      <a class="button" href="${q(true)}">Reverse…</a>
    </td>
  </tr>`;
}

function resolveFormOf(v: Record<string, unknown>): ResolveForm {
  return { entry: field(v, 'entry'), reverse: field(v, 'reverse') === '1', reason: field(v, 'reason') };
}

/** The form (confirm false) or the preview (true) of one resolution, from the plan of `audit resolve`. */
function resolvePage(s: SignedIn, f: ResolveForm, p: ResolvePlan, confirm: boolean, note: Html | null = null): Html {
  const e = p.entry;
  const what = f.reverse
    ? `write a correction entry taking back the ${e.credits} credits of entry ${e.entryId} from user ${e.userId}`
    : `accept entry ${e.entryId} (${e.credits} credits for user ${e.userId}) as it is`;
  return page(
    `Resolve audit finding ${e.entryId}`,
    s,
    html`${note ?? ''}
      <p>${e.paymentRef}: ${p.findings.map((x) => x.code).join(', ')}</p>
      <form class="box" method="post" action="${confirm ? '/audit/resolve' : '/audit/resolve/preview'}">
        ${csrfField(s)}
        <input type="hidden" name="entry" value="${f.entry}" />
        <input type="hidden" name="reverse" value="${f.reverse ? '1' : '0'}" />
        ${
          confirm
            ? html`<p>This will ${what}, by ${s.account.name}: ${f.reason}. Audit then no longer lists it.</p>
                <input type="hidden" name="reason" value="${f.reason}" />
                <button type="submit">Confirm</button>`
            : html`<p>To ${what}.</p>
                <p>
                  <label for="reason">Reason (recorded)</label><input id="reason" name="reason" type="text" required />
                </p>
                <button type="submit">Preview</button>`
        }
        <a href="/audit">Cancel</a>
      </form>`,
  );
}

const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

export function auditRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get('/audit', requireRole('admin'), async (c) => {
    const r = await audit({ ...deps.support, now: Math.floor(Date.now() / 1000) });
    const body = html`<p>
        ${r.counts.entries} purchase entries from ${day(r.window.since)} to ${day(r.window.until)}: ${r.counts.backed}
        backed by Stripe, ${r.counts.findings} finding${r.counts.findings === 1 ? '' : 's'}.
      </p>
      ${
        r.findings.length === 0
          ? html`<p class="box ok">Every entry is backed by a payment.</p>`
          : html`<table>
              <tr>
                <th>Entry</th>
                <th>User</th>
                <th>Credits</th>
                <th>Payment</th>
                <th>Finding</th>
                <th>Stripe backs</th>
                <th></th>
              </tr>
              ${r.findings.map(findingRow)}
            </table>`
      }`;
    return c.html(page('Audit', c.get('session'), body));
  });

  const plan = (f: ResolveForm) => previewResolve({ ...deps.support, entryId: f.entry });
  previewedWrite(app, {
    path: '/audit/resolve',
    role: 'admin',
    fields: resolveFormOf,
    form: async (s, f, note) => resolvePage(s, f, await plan(f), false, note),
    preview: async (s, f) => resolvePage(s, f, await plan(f), true),
    write: async (c, s, f) => {
      const r = await resolveFinding({
        ...deps.support,
        ...{ entryId: f.entry, reason: f.reason, actor: s.account.name, reverse: f.reverse },
      });
      const x = r.resolution;
      const text =
        x.outcome === 'reversed'
          ? `Reversed entry ${x.entryId}: correction entry ${x.correctionId} takes ${x.credits} credits from user ${x.userId}, by ${x.actor}.`
          : `Accepted entry ${x.entryId} as it is, by ${x.actor}.`;
      return c.html(
        page(
          'Resolved',
          s,
          html`${message('ok', text)}
            <p><a href="/audit">Back to the audit</a></p>`,
        ),
      );
    },
  });
}
