import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { adjustLimit, consoleAdjust } from '../app/console-actions.js';
import type { SignedIn } from '../app/console-accounts.js';
import { parseCredits, requireText, userBalance } from '../app/corrections.js';
import { requireRole } from './auth-routes.js';
import { csrfField, message, page, type Html } from './layout.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

interface AdjustForm {
  user: string;
  credits: string;
  reason: string;
}

async function adjustForm(c: Context<ConsoleEnv>): Promise<AdjustForm> {
  const f = await c.req.parseBody();
  return {
    user: String(f.user ?? '').trim(),
    credits: String(f.credits ?? '').trim(),
    reason: String(f.reason ?? '').trim(),
  };
}

function formPage(s: SignedIn, f: AdjustForm, limit: number | null): Html {
  return page(
    'Adjust credits',
    s,
    html`<form class="box" method="post" action="/adjust/preview">
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

function previewBody(
  s: SignedIn,
  b: { user: { id: string; email: string | null }; balance: number },
  credits: number,
  reason: string,
  limit: number | null,
): Html {
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
        <button type="submit">Confirm: write the entry</button>
        <a href="/lookup?q=${encodeURIComponent(b.user.id)}">Cancel</a>
      </form>
    </div>`;
}

/** A manual entry: a form, a preview with the balance before and after, then adjust within the role's limit. */
export function adjustRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const limitFor = (s: SignedIn) => adjustLimit(s.account.role, deps.support.settings.config);

  app.get('/adjust', requireRole('support'), (c) => {
    const s = c.get('session');
    return c.html(formPage(s, { user: c.req.query('user') ?? '', credits: '', reason: '' }, limitFor(s)));
  });

  app.post('/adjust/preview', requireRole('support'), async (c) => {
    const s = c.get('session');
    const f = await adjustForm(c);
    const credits = parseCredits(f.credits, { signed: true });
    const reason = requireText(f.reason, 'the reason');
    const b = await userBalance({ ...deps.support, user: f.user });
    const body = previewBody(s, { user: b.user, balance: b.balance }, credits, reason, limitFor(s));
    return c.html(page('Adjust credits: confirm', s, body));
  });

  app.post('/adjust', requireRole('support'), async (c) => {
    const s = c.get('session');
    const f = await adjustForm(c);
    const r = await consoleAdjust({
      ...deps.support,
      role: s.account.role,
      user: f.user,
      credits: parseCredits(f.credits, { signed: true }),
      reason: requireText(f.reason, 'the reason'),
      actor: s.account.name,
    });
    const text = `Wrote entry ${r.entry.id}: ${r.entry.credits > 0 ? '+' : ''}${r.entry.credits} credits for user ${r.user.id}, by ${r.entry.actor}. Balance now ${r.balance}.`;
    return c.html(
      page(
        'Adjusted',
        s,
        html`${message('ok', text)}
          <p><a href="/lookup?q=${encodeURIComponent(r.user.id)}">See user ${r.user.id}</a></p>`,
      ),
    );
  });
}
