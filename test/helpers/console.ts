import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, type TestContext } from 'vitest';
import { resolveSettings } from '../../src/config.js';
import { startConsole, type RunningConsole } from '../../src/console/server.js';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { BIN, DAY, now, runCli, tempDir, writeJson, type CliResult, type TestUser } from './cli.js';
import { createAppDb, type AppDb, type EngineName } from './engines.js';

/** The support console's tests: a simulator, an app database, accounts made by the CLI, and `serve`'s server. */

const KEY = 'sk_test_e2e_console';
export const PASSWORD = 'correct horse battery';

export const CONSOLE_USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
];

export interface ConsoleWorld {
  sim: StripeSimulator;
  app: AppDb;
  cli(args: string[], stdin?: string): Promise<CliResult>;
  /** `serve` itself, the built bin as a child process: its URL, and a stop (SIGTERM) that gives its exit code and stderr. */
  serveProcess(args?: string[]): Promise<{ url: string; stop(): Promise<{ code: number | null; stderr: string }> }>;
  /** `demo --serve` as a child process in the test's directory: the console's URL, the demo account's password, a stop. */
  demoServe(): Promise<{ url: string; password: string; stop(): Promise<number | null> }>;
  /** Starts the console (port 0 on 127.0.0.1) as `serve` does; stopped when the test ends. */
  serve(opts?: { behindProxy?: boolean; trustedProxies?: string[] }): Promise<RunningConsole>;
  log: string[];
  /** The test's own directory (removed when it ends). */
  dir: string;
}

/** `config` is merged into the test's config file (a `console` section, say). */
export async function consoleWorld(
  engine: EngineName,
  test: TestContext,
  config: Record<string, unknown> = {},
): Promise<ConsoleWorld> {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-console-');
  const app = await createAppDb(engine, tmp.dir, CONSOLE_USERS);
  const cfg = writeJson(join(tmp.dir, 'config.json'), { credits: { unitAmountPerCredit: { usd: 100 } }, ...config });
  const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
  const stops: (() => Promise<void>)[] = [];
  test.onTestFinished(async () => {
    for (const stop of stops) await stop();
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const log: string[] = [];
  return {
    sim,
    app,
    log,
    dir: tmp.dir,
    cli: (args, stdin) => runCli([...args, '--db', app.url, '--config', cfg], { cwd: tmp.dir, env, stdin }),
    serveProcess: async (args = []) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args, '--db', app.url, '--config', cfg], {
        cwd: tmp.dir,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      stops.push(async () => void (child.kill('SIGKILL'), await exited));
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          stderr += d;
          const m = /listening on (\S+)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
      });
      return { url, stop: async () => (child.kill('SIGTERM'), { code: await exited, stderr }) };
    },
    demoServe: async () => {
      const child = spawn(process.execPath, [BIN, 'demo', '--serve'], {
        cwd: tmp.dir,
        env: process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      stops.push(async () => void (child.kill('SIGKILL'), await exited));
      child.stderr.on('data', () => {});
      const m = await new Promise<RegExpExecArray>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const found = /running on (\S+) [\s\S]*password: (\S+)/.exec(out);
          if (found) resolve(found);
        });
        void exited.then((code) => reject(new Error(`demo --serve exited ${code}: ${out}`)));
      });
      return { url: m[1]!, password: m[2]!, stop: async () => (child.kill('SIGTERM'), exited) };
    },
    serve: async (opts = {}) => {
      const settings = resolveSettings({ db: app.url, config: cfg }, env, tmp.dir);
      const c = await startConsole({
        support: { settings, cwd: tmp.dir },
        host: '127.0.0.1',
        port: 0,
        tls: null,
        behindProxy: opts.behindProxy === true,
        trustedProxies: opts.trustedProxies,
        log: (line) => log.push(line),
      });
      stops.push(() => c.close());
      return c;
    },
  };
}

/** A browser as far as HTTP goes: keeps cookies, follows nothing (each redirect is asserted). */
export class Client {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(
    path: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ) {
    const res = await fetch(this.base + path, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...init.headers,
      },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      if (/max-age=0/i.test(c)) this.cookies.delete(k!);
      else this.cookies.set(k!, v!);
    }
    return {
      status: res.status,
      location: res.headers.get('location'),
      setCookie: res.headers.getSetCookie(),
      text: await res.text(),
    };
  }

  /** The CSRF token of the first form on a page. */
  static csrf(page: string): string {
    const m = /name="csrf" value="([^"]+)"/.exec(page);
    if (!m) throw new Error(`no CSRF field on the page: ${page.slice(0, 300)}`);
    return m[1]!;
  }

  async signIn(name: string, password: string) {
    const login = await this.request('/login');
    return this.request('/login', { form: { csrf: Client.csrf(login.text), name, password } });
  }
}

/** A console account made by the CLI, as an admin would (`console user add`), with PASSWORD. */
export async function addAccount(w: ConsoleWorld, name: string, role: string): Promise<void> {
  const r = await w.cli(['console', 'user', 'add', name, '--role', role], `${PASSWORD}\n`);
  expect(r.code, r.stderr).toBe(0);
}

/** A payment reconcile cannot match (nobody has this email): it waits in review. */
export async function unmatchedPayment(w: ConsoleWorld): Promise<string> {
  const pi = w.sim.store.createCheckoutPayment({
    created: now() - 2 * DAY,
    email: 'ann.work@example.org',
    amount: 2500,
  }).paymentIntent!.id;
  const run = await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes']);
  expect(run.code, run.stderr).toBe(3);
  return pi;
}
