import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { SignedIn } from '../app/console-accounts.js';
import { dismissReview } from '../app/corrections.js';
import { listReviewQueue } from '../app/reversal-review.js';
import { UsageError } from '../errors.js';
import { csrfField, message, money, page, type Html } from './layout.js';
import { field, previewedWrite } from './previewed-write.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

interface DismissForm {
  payment: string;
  reason: string;
}

function dismissForm(v: Record<string, unknown>): DismissForm {
  return { payment: field(v, 'payment'), reason: field(v, 'reason') };
}

function formPage(s: SignedIn, f: DismissForm, note: Html | null): Html {
  return page(
    `Dismiss ${f.payment}`,
    s,
    html`${note ?? ''}
      <form class="box" method="post" action="/dismiss/preview">
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

/** What dismissing closes: the payment's open review entry. */
async function previewPage(deps: ConsoleDeps, s: SignedIn, f: DismissForm): Promise<Html> {
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
      <dd>${f.reason}</dd>
    </dl>
    <form method="post" action="/dismiss">
      ${csrfField(s)}
      <input type="hidden" name="payment" value="${f.payment}" />
      <input type="hidden" name="reason" value="${f.reason}" />
      <button type="submit">Confirm: dismiss</button> <a href="/review">Cancel</a>
    </form>
  </div>`;
  return page(`Dismiss ${item.paymentKey}: confirm`, s, body);
}

/** Dismiss a payment's review entry: a form, a preview, then dismissReview (as `review dismiss`). */
export function dismissRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  previewedWrite(app, {
    path: '/dismiss',
    role: 'support',
    fields: dismissForm,
    form: formPage,
    preview: (s, f) => previewPage(deps, s, f),
    write: async (c, s, f) => {
      const r = await dismissReview({ ...deps.support, payment: f.payment, reason: f.reason, actor: s.account.name });
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
    },
  });
}
