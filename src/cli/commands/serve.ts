import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { resolveSettings } from '../../config.js';
import { CliError, UsageError } from '../../errors.js';
import { startConsole } from '../../console/server.js';
import type { CommonFlags, CommandContext } from '../context.js';

export interface ServeFlags extends CommonFlags {
  host?: string;
  port?: string;
  tlsCert?: string;
  tlsKey?: string;
  behindProxy?: boolean;
  trustedProxy?: string[];
}

const DEFAULT_PORT = 8787;

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PORT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new UsageError(`--port: not a port number: '${raw}'`);
  return n;
}

function readTls(ctx: CommandContext, flags: ServeFlags): { cert: Buffer; key: Buffer } | null {
  if (!flags.tlsCert && !flags.tlsKey) return null;
  if (!flags.tlsCert || !flags.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(resolve(ctx.cwd, file));
    } catch (e) {
      throw new UsageError(
        `${flag}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  return { cert: read('--tls-cert', flags.tlsCert), key: read('--tls-key', flags.tlsKey) };
}

/** Resolves on the first SIGINT or SIGTERM: the console then stops listening and closes the database. */
function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** `serve`: the support console. Loopback unless told otherwise, and never plain HTTP on an open address. */
export async function serveCommand(ctx: CommandContext, flags: ServeFlags): Promise<number> {
  const host = flags.host ?? '127.0.0.1';
  const port = parsePort(flags.port);
  const tls = readTls(ctx, flags);
  if (!isLoopback(host) && !tls && !flags.behindProxy)
    throw new UsageError(
      `refusing to serve on ${host} over plain HTTP: give --tls-cert and --tls-key, or --behind-proxy when a TLS proxy is in front`,
    );
  if (flags.trustedProxy && !flags.behindProxy) throw new UsageError('--trusted-proxy goes with --behind-proxy');
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  let running;
  try {
    running = await startConsole({
      support: { settings, cwd: ctx.cwd },
      host,
      port,
      tls,
      behindProxy: flags.behindProxy === true,
      trustedProxies: flags.trustedProxy?.flatMap((v) => v.split(',')),
      log: (line) => ctx.io.stderr.write(`${line}\n`),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES')
      throw new CliError(`cannot listen on ${host}:${port}: ${code}`, 2, 'pick another --port or --host');
    throw e;
  }
  ctx.io.stderr.write(`stripe-credits console listening on ${running.url} (Ctrl-C stops it)\n`);
  await untilStopped();
  await running.close();
  return 0;
}
