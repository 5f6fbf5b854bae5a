import type { Hono, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import type { ConsoleRole } from '../app/console-accounts.js';
import { page, message, type Html } from './layout.js';
import {
  FailureLimiter,
  LOGIN_COOKIE,
  SESSION_COOKIE,
  clientAddress,
  cookieOptions,
  hasRole,
  newToken,
  sameToken,
} from './security.js';
import type { ConsoleEnv, ConsoleDeps } from './types.js';

const FAILURE_WINDOW_MS = 15 * 60_000;

const REFUSAL_NOTE = { refused: 'wrong password', locked: 'account locked', unknown: 'no such account' } as const;

/** One answer for an unknown name, a wrong password and a locked account (the log line tells which). */
function refusedText(limits: { lockAfterFailures: number; lockMinutes: number }): string {
  return `Wrong account name or password. After ${limits.lockAfterFailures} wrong passwords an account is locked for ${limits.lockMinutes} minutes (an operator can lift it with stripe-credits console user unlock NAME).`;
}

function loginPage(token: string, note: Html | null): Html {
  return page(
    'Sign in',
    null,
    html`${note ?? ''}
      <form class="box" method="post" action="/login">
        <input type="hidden" name="csrf" value="${token}" />
        <p>
          <label for="name">Account</label><input id="name" name="name" type="text" autocomplete="username" required />
        </p>
        <p>
          <label for="password">Password</label
          ><input id="password" name="password" type="password" autocomplete="current-password" required />
        </p>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">
        Accounts are made by an operator: <code>stripe-credits console user add NAME --role ROLE</code>.
      </p>`,
  );
}

/** GET and POST /login, POST /logout: the only routes a person reaches without a session. */
export function authRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  // Per address more than per account: one office may share an address.
  const byAccount = new FailureLimiter(10, FAILURE_WINDOW_MS);
  const byAddress = new FailureLimiter(30, FAILURE_WINDOW_MS);
  const limits = deps.support.settings.config.console;

  const showLogin = (
    c: Parameters<MiddlewareHandler<ConsoleEnv>>[0],
    status: 200 | 401 | 403 | 429,
    note: Html | null,
  ) => {
    // Kept while it lives: a second tab (or the browser's favicon request) must not void the first form.
    const token = getCookie(c, LOGIN_COOKIE) ?? newToken();
    setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, deps.transport, 3600));
    return c.html(loginPage(token, note), status);
  };

  app.get('/login', (c) => showLogin(c, 200, null));
  const tooMany = (c: Parameters<MiddlewareHandler<ConsoleEnv>>[0]) => {
    c.set('logNote', 'sign-in refused: too many failures');
    return showLogin(c, 429, message('error', 'Too many failed sign-ins: wait a few minutes, then try again.'));
  };

  app.post('/login', async (c) => {
    const form = await c.req.parseBody();
    if (!sameToken(String(form.csrf ?? ''), getCookie(c, LOGIN_COOKIE)))
      return showLogin(c, 403, message('error', 'The sign-in form had expired (CSRF check): please sign in again.'));
    const name = String(form.name ?? '').trim();
    const account = `account:${name}`;
    const address = `address:${clientAddress(c, deps.transport)}`;
    // Counted before the password check (forgiven on success): concurrent attempts must see each other.
    const at = Date.now();
    if (!byAccount.attempt([account], at)) return tooMany(c);
    if (!byAddress.attempt([address], at)) {
      byAccount.forgive([account], at);
      return tooMany(c);
    }
    const r = await deps.sessions.signIn(name, String(form.password ?? ''));
    if (r.outcome !== 'signed_in') {
      // One answer whether the name is unknown, the password wrong or the account locked: the page
      // must not tell a guesser which names exist. The operator's log line says which it was.
      c.set('logNote', `sign-in refused: ${REFUSAL_NOTE[r.outcome]}`);
      return showLogin(c, 401, message('error', refusedText(limits)));
    }
    byAccount.forgive([account], at);
    byAddress.forgive([address], at);
    deleteCookie(c, LOGIN_COOKIE, { path: '/' });
    setCookie(c, SESSION_COOKIE, r.token, cookieOptions(c, deps.transport, limits.sessionHours * 3600));
    return c.redirect('/review', 303);
  });
}

/**
 * Every other route: a live session, and on anything but GET/HEAD the session's CSRF token in the
 * form. A browser without a session is sent to sign in; anything else is refused.
 */
export function requireSession(deps: ConsoleDeps): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    const session = token ? await deps.sessions.session(token) : null;
    const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (!token || !session) return reading ? c.redirect('/login', 303) : c.text('sign in first\n', 401);
    c.set('session', session);
    c.set('token', token);
    if (!reading) {
      const form = await c.req.parseBody();
      if (!sameToken(String(form.csrf ?? ''), session.csrfToken))
        return c.text('refused: this form has no valid CSRF token (reload the page and try again)\n', 403);
    }
    await next();
  };
}

/** Refuses, on the server, what the signed-in person's role does not allow. */
export function requireRole(role: ConsoleRole): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const s = c.get('session');
    if (!hasRole(s, role))
      return c.html(
        page('Not allowed', s, message('error', `Your role (${s.account.role}) cannot do this: it needs ${role}.`)),
        403,
      );
    await next();
  };
}

export function logoutRoute(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.post('/logout', async (c) => {
    await deps.sessions.signOut(c.get('token'));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });
}
