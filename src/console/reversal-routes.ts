import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { SignedIn } from '../app/console-accounts.js';
import { adjustLimit, consoleReverse } from '../app/console-actions.js';
import {
  dismissReversalReview,
  previewDismissReversal,
  previewReverse,
  toReversalReviewItem,
  type ReversalReviewItem,
} from '../app/reversal-review.js';
import { csrfField, message, page, type Html } from './layout.js';
import { field, previewedWrite } from './previewed-write.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

/** A refund or dispute of a credited payment waiting in review (`review` policy): reverse it, or dismiss it. */

type Action = 'reverse' | 'dismiss';

interface ReversalForm {
  id: string;
  action: Action;
  reason: string;
}

function actionOf(raw: unknown): Action {
  return raw === 'dismiss' ? 'dismiss' : 'reverse';
}

function reversalForm(v: Record<string, unknown>): ReversalForm {
  return { id: field(v, 'id'), action: actionOf(v.action), reason: field(v, 'reason') };
}

function hidden(s: SignedIn, f: ReversalForm): Html {
  return html`${csrfField(s)}<input type="hidden" name="id" value="${f.id}" />
    <input type="hidden" name="action" value="${f.action}" />`;
}

function formPage(s: SignedIn, f: ReversalForm, note: Html | null): Html {
  return page(
    `${f.action === 'reverse' ? 'Reverse' : 'Dismiss'} ${f.id}`,
    s,
    html`${note ?? ''}
      <form class="box" method="post" action="/reversal/preview">
        ${hidden(s, f)}
        <p><label for="reason">Reason (recorded)</label><input id="reason" name="reason" type="text" required /></p>
        <button type="submit">Preview</button> <a href="/review">Cancel</a>
      </form>`,
  );
}

function previewBody(s: SignedIn, f: ReversalForm, i: ReversalReviewItem, limit: number | null): Html {
  const what =
    f.action === 'reverse'
      ? `This will take ${-i.credits} credits back from user ${i.userId ?? '?'} (a reversal entry) and close the entry.`
      : `This will close the entry without reversing: user ${i.userId ?? '?'} keeps ${-i.credits} credits, and later runs never reverse it.`;
  const over = f.action === 'reverse' && limit !== null && Math.abs(i.credits) > limit;
  return html`${over ? message('error', `More than your limit of ${limit} credits per action: confirming will be refused.`) : ''}
    <div class="box">
      <p>${what}</p>
      <dl>
        <dt>${i.source === 'dispute' ? 'Dispute' : 'Refund'}</dt>
        <dd class="id">${i.id}</dd>
        <dt>Payment</dt>
        <dd class="id">${i.paymentKey}</dd>
        <dt>By</dt>
        <dd>${s.account.name}</dd>
        <dt>Reason</dt>
        <dd>${f.reason}</dd>
      </dl>
      <form method="post" action="/reversal">
        ${hidden(s, f)}<input type="hidden" name="reason" value="${f.reason}" />
        <button type="submit">Confirm: ${f.action}</button> <a href="/review">Cancel</a>
      </form>
    </div>`;
}

/**
 * The entry as its confirm would act on it, with the user who holds the payment now (after any
 * reassignment): a reversal's own plan, or the open entry a dismissal closes.
 */
async function previewItem(deps: ConsoleDeps, f: ReversalForm): Promise<ReversalReviewItem> {
  if (f.action === 'reverse') {
    const plan = await previewReverse({ ...deps.support, id: f.id });
    return { ...toReversalReviewItem(plan.row), userId: plan.purchase.userId, credits: plan.decision.credits };
  }
  return previewDismissReversal({ ...deps.support, id: f.id });
}

export function reversalRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  previewedWrite(app, {
    path: '/reversal',
    role: 'support',
    fields: reversalForm,
    form: formPage,
    preview: async (s, f) => {
      const i = await previewItem(deps, f);
      const body = previewBody(s, f, i, adjustLimit(s.account.role, deps.support.settings.config));
      return page(`${f.action === 'reverse' ? 'Reverse' : 'Dismiss'} ${i.id}: confirm`, s, body);
    },
    write: async (c, s, f) => {
      const o = { ...deps.support, id: f.id, reason: f.reason, actor: s.account.name };
      let text: string;
      if (f.action === 'reverse') {
        const r = await consoleReverse({ ...o, role: s.account.role });
        text = `Reversed ${r.item.id}: ${r.credits} credits for user ${r.userId}, by ${s.account.name}.`;
      } else {
        const r = await dismissReversalReview(o);
        text =
          r.outcome === 'dismissed'
            ? `Dismissed ${r.item.id} without reversing it, by ${s.account.name}.`
            : `${r.item.id} was already dismissed: nothing changed.`;
      }
      return c.html(
        page(
          'Done',
          s,
          html`${message('ok', text)}
            <p><a href="/review">Back to the queue</a></p>`,
        ),
      );
    },
  });
}
