import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import type { SignedIn } from '../app/console-accounts.js';
import { dismissReview, requireText } from '../app/corrections.js';
import { listReviewQueue } from '../app/reversal-review.js';
import { UsageError } from '../errors.js';
import { requireRole } from './auth-routes.js';
import { csrfField, message, money, page, type Html } from './layout.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

interface DismissForm {
  payment: string;
  reason: string;
}

async function dismissForm(c: Context<ConsoleEnv>): Promise<DismissForm> {
  const f = await c.req.parseBody();
  return { payment: String(f.payment ?? '').trim(), reason: String(f.reason ?? '').trim() };
}

function formPage(s: SignedIn, f: DismissForm): Html {
  return page(
    `Dismiss ${f.payment}`,
    s,
    html`<form class="box" method="post" action="/dismiss/preview">
      ${csrfField(s)}
      <input type="hidden" name="payment" value="${f.payment}" />
      <p>
        <label for="reason">Why it needs no credit (recorded)</label
        ><input id="reason" name="reason" type="text" value="${f.reason}" required />
      </p>
      <button type="submit">Preview</button> <a href="/review">Cancel</a>
    </form>`,
  );
}

/** Dismiss a payment's review entry: a form, a preview, then dismissReview (as `review dismiss`). */
export function dismissRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get('/dismiss', requireRole('support'), (c) =>
    c.html(formPage(c.get('session'), { payment: c.req.query('payment') ?? '', reason: '' })),
  );

  app.post('/dismiss/preview', requireRole('support'), async (c) => {
    const s = c.get('session');
    const f = await dismissForm(c);
    const reason = requireText(f.reason, 'the reason');
    const item = (await listReviewQueue(deps.support)).payments.find((i) => i.paymentKey === f.payment);
    if (!item) throw new UsageError(`${f.payment} is not open in the review queue`);
    const body = html`<div class="box">
      <p>
        This will close the review entry without crediting the payment (kept, with who and why; later runs do not credit
        it):
      </p>
      <dl>
        <dt>Payment</dt>
        <dd class="id">${item.paymentKey}</dd>
        <dt>Paid</dt>
        <dd>${money(item.amount, item.currency)}</dd>
        <dt>In review for</dt>
        <dd>${item.reason}</dd>
        <dt>By</dt>
        <dd>${s.account.name}</dd>
        <dt>Reason</dt>
        <dd>${reason}</dd>
      </dl>
      <form method="post" action="/dismiss">
        ${csrfField(s)}
        <input type="hidden" name="payment" value="${f.payment}" />
        <input type="hidden" name="reason" value="${reason}" />
        <button type="submit">Confirm: dismiss</button> <a href="/review">Cancel</a>
      </form>
    </div>`;
    return c.html(page(`Dismiss ${item.paymentKey}: confirm`, s, body));
  });

  app.post('/dismiss', requireRole('support'), async (c) => {
    const s = c.get('session');
    const f = await dismissForm(c);
    const reason = requireText(f.reason, 'the reason');
    const r = await dismissReview({ ...deps.support, payment: f.payment, reason, actor: s.account.name });
    const text =
      r.outcome === 'dismissed'
        ? `Dismissed ${r.item.paymentKey} without crediting it, by ${r.item.resolvedBy}: ${r.item.resolution}.`
        : `${r.item.paymentKey} was already dismissed by ${r.item.resolvedBy}: nothing changed.`;
    return c.html(
      page(
        'Dismissed',
        s,
        html`${message('ok', text)}
          <p><a href="/review">Back to the queue</a></p>`,
      ),
    );
  });
}
