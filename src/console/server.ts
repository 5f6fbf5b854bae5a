import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { html } from 'hono/html';
import { ConsoleSessions } from '../app/console-accounts.js';
import type { SupportOptions } from '../app/corrections.js';
import { databaseError } from '../app/redact.js';
import { ConsoleRefusal } from '../app/console-actions.js';
import { CliError } from '../errors.js';
import { adjustRoutes } from './adjust-routes.js';
import { assignRoutes } from './assign-routes.js';
import { auditRoutes } from './audit-routes.js';
import { dismissRoutes } from './dismiss-routes.js';
import { authRoutes, logoutRoute, requireSession } from './auth-routes.js';
import { message, page } from './layout.js';
import { lookupRoutes } from './lookup-routes.js';
import { reversalRoutes } from './reversal-routes.js';
import { reviewRoutes } from './review-routes.js';
import { runsRoutes } from './runs-routes.js';
import { reassignRoutes } from './reassign-routes.js';
import { userRoutes } from './user-routes.js';
import { DEFAULT_TRUSTED_PROXIES, clientAddress, redactor, trustedProxyList, type Transport } from './security.js';
import { CONSOLE_CSS } from './style.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

export interface ConsoleOptions {
  support: SupportOptions;
  host: string;
  port: number;
  tls: { cert: Buffer; key: Buffer } | null;
  behindProxy: boolean;
  /** With behindProxy: the proxies' addresses or networks (default: loopback, a proxy on this machine). */
  trustedProxies?: readonly string[];
  /** One line per request (never a cookie, a form field or a query string). */
  log: (line: string) => void;
}

export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

/** A field of the request log as one token: a space, a line break or a control character could forge a line. */
function logField(s: string): string {
  return s.replace(/[\s\p{Cc}]/gu, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * One line per request: when, who, what, the outcome. The path only (a query may hold an email), as
 * the client sent it, still percent-encoded: decoded, %0a would start a line of the client's own.
 */
function requestLog(t: Transport, log: (line: string) => void): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const who = c.get('session')?.account.name ?? '-';
    const ms = Math.round(performance.now() - started);
    const path = logField(new URL(c.req.url).pathname);
    const note = c.get('logNote');
    log(
      `${new Date().toISOString()} ${logField(clientAddress(c, t))} ${who} ${c.req.method} ${path} ${c.res.status} ${ms}ms${note ? ` (${note})` : ''}`,
    );
  };
}

const SECURITY_HEADERS: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  await next();
  c.header(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
  );
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('Cache-Control', 'no-store');
};

/**
 * A refusal of the core (bad input, already credited) is a message on the page; anything else a 500
 * and a log line. Both pass the CLI's mask first: the database password never reaches a page or the log.
 */
function onError(support: SupportOptions, log: (line: string) => void) {
  const clean = redactor(support);
  return async (e: Error, c: Context<ConsoleEnv>) => {
    const session = c.get('session') ?? null;
    const known = e instanceof CliError ? e : await databaseError(e);
    if (known) {
      const text = clean(known.hint ? `${known.message} (${known.hint})` : known.message);
      if (known.exitCode !== 2 && known.exitCode !== 3) log(`error: ${text}`);
      const status = e instanceof ConsoleRefusal ? 403 : known.exitCode === 3 ? 409 : known.exitCode === 2 ? 400 : 503;
      return c.html(page('Not done', session, message('error', text)), status);
    }
    log(`error: ${clean(e.message)}`);
    return c.html(page('Error', session, message('error', 'Unexpected error: see the console server log.')), 500);
  };
}

const MAX_BODY_BYTES = 64 * 1024;

/** The console's routes: public sign-in and stylesheet, everything else behind a session. */
export function consoleApp(deps: ConsoleDeps, log: (line: string) => void): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  app.use('*', requestLog(deps.transport, log), SECURITY_HEADERS);
  // Every form is small: a bigger body is refused before anything reads it, sign-in included.
  app.use('*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.text('request body too large\n', 413) }));
  app.get('/console.css', (c) => c.body(CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' }));
  app.get('/favicon.ico', (c) => c.body(null, 204));
  authRoutes(app, deps);
  app.use('*', requireSession(deps));
  logoutRoute(app, deps);
  app.get('/', (c) => c.redirect('/review', 303));
  reviewRoutes(app, deps);
  assignRoutes(app, deps);
  dismissRoutes(app, deps);
  reversalRoutes(app, deps);
  adjustRoutes(app, deps);
  lookupRoutes(app, deps);
  userRoutes(app, deps);
  reassignRoutes(app, deps);
  runsRoutes(app, deps);
  auditRoutes(app, deps);
  app.notFound((c) => c.html(page('Not found', c.get('session') ?? null, html`<p>No such page.</p>`), 404));
  app.onError(onError(deps.support, log));
  return app;
}

/** Starts the console; resolves once it listens (port 0 picks a free port: see `url`). */
export async function startConsole(o: ConsoleOptions): Promise<RunningConsole> {
  const trustedProxies = trustedProxyList(o.trustedProxies ?? DEFAULT_TRUSTED_PROXIES);
  const sessions = await ConsoleSessions.open(o.support);
  const transport = { tls: o.tls !== null, behindProxy: o.behindProxy, trustedProxies };
  const app = consoleApp({ support: o.support, sessions, transport }, o.log);
  const server = o.tls
    ? createAdaptorServer({
        fetch: app.fetch,
        overrideGlobalObjects: false,
        createServer: createHttpsServer,
        serverOptions: { cert: o.tls.cert, key: o.tls.key },
      })
    : createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
  } catch (e) {
    await sessions.close();
    throw e;
  }
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A browser keeps idle connections open; they must not hold the stop up.
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await sessions.close();
    },
  };
}
