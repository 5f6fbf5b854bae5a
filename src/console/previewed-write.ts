import type { Context, Hono } from 'hono';
import type { ConsoleRole, SignedIn } from '../app/console-accounts.js';
import { requireRole } from './auth-routes.js';
import { message, type Html } from './layout.js';
import type { ConsoleEnv } from './types.js';

/**
 * One write of the console, as every write goes: a form (GET PATH), a preview of what the confirm
 * will write (POST PATH/preview), the confirm (POST PATH). Both POSTs need a reason; the preview runs
 * the write's own plan, so it shows what the confirm writes or the refusal it meets.
 */
export interface PreviewedWrite<F extends { reason: string }> {
  path: string;
  role: ConsoleRole;
  /** The form's fields from a body or a query string (trimmed; anything absent is empty). */
  fields(v: Record<string, unknown>): F;
  /** The form, with a note above it (null for none); it may read what it shows (a promise). */
  form(s: SignedIn, f: F, note: Html | null): Html;
  /** The preview page: what the confirm would write, from the write's own plan. */
  preview(s: SignedIn, f: F): Promise<Html>;
  /** Writes and answers: a page of the result, or a redirect to one. */
  write(c: Context<ConsoleEnv>, s: SignedIn, f: F): Promise<Response>;
}

const SAY_WHY = 'Say why: the reason is recorded.';

/** A form field as text: a string trimmed, anything else (absent, a file) empty. */
export function field(v: Record<string, unknown>, name: string): string {
  const x = v[name];
  return typeof x === 'string' ? x.trim() : '';
}

export function previewedWrite<F extends { reason: string }>(app: Hono<ConsoleEnv>, w: PreviewedWrite<F>): void {
  const noReason = async (c: Context<ConsoleEnv>, f: F) =>
    c.html(await w.form(c.get('session'), f, message('error', SAY_WHY)), 400);

  app.get(w.path, requireRole(w.role), async (c) =>
    c.html(await w.form(c.get('session'), { ...w.fields(c.req.query()), reason: '' }, null)),
  );

  app.post(`${w.path}/preview`, requireRole(w.role), async (c) => {
    const f = w.fields(await c.req.parseBody());
    if (f.reason === '') return noReason(c, f);
    return c.html(await w.preview(c.get('session'), f));
  });

  app.post(w.path, requireRole(w.role), async (c) => {
    const f = w.fields(await c.req.parseBody());
    if (f.reason === '') return noReason(c, f);
    return w.write(c, c.get('session'), f);
  });
}
