import type { Hono } from 'hono';
import { html } from 'hono/html';
import { adjustLimit, consoleAdjust } from '../app/console-actions.js';
import type { SignedIn } from '../app/console-accounts.js';
import { parseCredits, previewAdjust, userBalance, type AdjustPlan } from '../app/corrections.js';
import { UsageError } from '../errors.js';
import { requireRole } from './auth-routes.js';
import { csrfField, message, page, type Html } from './layout.js';
import { field, previewedWrite } from './previewed-write.js';
import { newToken } from './security.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

interface AdjustForm {
  user: string;
  credits: string;
  reason: string;
  /** The preview's one-time key: a second confirm of the same preview (double click, reload) writes nothing. */
  once: string;
}

function adjustForm(v: Record<string, unknown>): AdjustForm {
  return { user: field(v, 'user'), credits: field(v, 'credits'), reason: field(v, 'reason'), once: field(v, 'once') };
}

function formPage(s: SignedIn, f: AdjustForm, limit: number | null, note: Html | null): Html {
  return page(
    'Adjust credits',
    s,
    html`${note ?? ''}
      <form class="box" method="post" action="/adjust/preview">
        ${csrfField(s)}
        <p>
          <label for="user">User (id or email)</label
          ><input id="user" name="user" type="text" value="${f.user}" required />
        </p>
        <p>
          <label for="credits">Credits (+N or -N${limit === null ? '' : `, at most ${limit} either way`})</label
          ><input id="credits" name="credits" type="text" value="${f.credits}" required />
        </p>
        <p>
          <label for="reason">Reason (recorded)</label
          ><input id="reason" name="reason" type="text" value="${f.reason}" required />
        </p>
        <button type="submit">Preview</button>
      </form>`,
  );
}

function previewBody(s: SignedIn, b: AdjustPlan, reason: string, limit: number | null): Html {
  const credits = b.credits;
  const over = limit !== null && Math.abs(credits) > limit;
  return html`${over ? message('error', `More than your limit of ${limit} credits: confirming will be refused.`) : ''}
    <div class="box">
      <p>This will write one manual ledger entry:</p>
      <dl>
        <dt>User</dt>
        <dd><code>${b.user.id}</code> ${b.user.email ?? ''}</dd>
        <dt>Credits</dt>
        <dd><strong>${credits > 0 ? `+${credits}` : credits}</strong></dd>
        <dt>Balance</dt>
        <dd>${b.balance} → ${b.balance + credits}</dd>
        <dt>By</dt>
        <dd>${s.account.name}</dd>
        <dt>Reason</dt>
        <dd>${reason}</dd>
      </dl>
      <form method="post" action="/adjust">
        ${csrfField(s)}
        <input type="hidden" name="user" value="${b.user.id}" />
        <input type="hidden" name="credits" value="${String(credits)}" />
        <input type="hidden" name="reason" value="${reason}" />
        <input type="hidden" name="once" value="${newToken()}" />
        <button type="submit">Confirm: write the entry</button>
        <a href="/lookup?q=${encodeURIComponent(b.user.id)}">Cancel</a>
      </form>
    </div>`;
}

/** A manual entry: a form, a preview with the balance before and after, then adjust within the role's limit. */
export function adjustRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const limitFor = (s: SignedIn) => adjustLimit(s.account.role, deps.support.settings.config);

  previewedWrite(app, {
    path: '/adjust',
    role: 'support',
    fields: adjustForm,
    form: (s, f, note) => formPage(s, f, limitFor(s), note),
    preview: async (s, f) => {
      const credits = parseCredits(f.credits, { signed: true });
      const plan = await previewAdjust({ ...deps.support, user: f.user, credits });
      return page('Adjust credits: confirm', s, previewBody(s, plan, f.reason, limitFor(s)));
    },
    // Post/Redirect/Get: the result is a page of its own, so that reloading it posts nothing again.
    write: async (c, s, f) => {
      if (!/^[A-Za-z0-9_-]{32,64}$/.test(f.once))
        throw new UsageError('this confirmation has no valid one-time key', 'start again from the adjust form');
      const r = await consoleAdjust({
        ...deps.support,
        ...{ role: s.account.role, user: f.user, credits: parseCredits(f.credits, { signed: true }) },
        ...{ reason: f.reason, actor: s.account.name, once: f.once },
      });
      const q = new URLSearchParams({
        user: r.user.id,
        entry: String(r.entry.id),
        ...(r.repeated ? { repeated: '1' } : {}),
      });
      return c.redirect(`/adjust/done?${q.toString()}`, 303);
    },
  });

  app.get('/adjust/done', requireRole('support'), async (c) => {
    const b = await userBalance({ ...deps.support, user: c.req.query('user') ?? '' });
    const e = b.entries.find((x) => String(x.id) === c.req.query('entry') && x.kind === 'manual');
    if (!e) throw new UsageError(`no manual entry ${c.req.query('entry') ?? ''} for user ${b.user.id}`);
    const text = `${c.req.query('repeated') ? 'Already confirmed, nothing written again: entry' : 'Wrote entry'} ${e.id}: ${e.credits > 0 ? '+' : ''}${e.credits} credits for user ${b.user.id}, by ${e.actor}. Balance now ${b.balance}.`;
    return c.html(
      page(
        'Adjusted',
        c.get('session'),
        html`${message('ok', text)}
          <p><a href="/lookup?q=${encodeURIComponent(b.user.id)}">See user ${b.user.id}</a></p>`,
      ),
    );
  });
}
