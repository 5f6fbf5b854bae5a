import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../errors.js';
import type { PgConnection, PostgresLocation } from './types.js';
import { maskDbLocation } from '../mask.js';

/** A `postgres://` / `postgresql://` URL, read as libpq reads it, with what pg cannot do refused in one line. */

const PG_PARAMS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'connect_timeout',
  'application_name',
  'options',
  'host',
  'port',
  'user',
  'password',
  'dbname',
];
export const PG_URL_FORM =
  'postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=require (percent-encode special characters in the password)';

/** The URL and its query parameters, with the label messages show. */
interface ParsedUrl {
  url: URL;
  /** libpq's user without a host (postgres://app@/db?host=/var/run/postgresql). */
  hostless: boolean;
  params: Map<string, string>;
  label: string;
  cwd: string;
}

export function parsePostgresUrl(raw: string, cwd: string): PostgresLocation {
  const label = maskDbLocation(raw);
  const { url, hostless } = readUrl(raw, label);
  const p: ParsedUrl = { url, hostless, params: readParams(url, label), label, cwd };
  const { params } = p;
  // Checked in this order (port, timeout, TLS, names): a URL with several faults always reports the same one.
  const host = params.get('host') ?? ((hostless ? '' : url.hostname.replace(/^\[(.*)\]$/, '$1')) || undefined);
  const port = portOf(p);
  const timeoutMs = connectTimeoutMs(p);
  const { ssl, sslmode } = tlsOf(p);
  const password = params.get('password') ?? (url.password ? decode(url.password, label) : undefined);
  return {
    kind: 'postgres',
    label,
    connection: {
      host,
      port,
      user: params.get('user') ?? (url.username ? decode(url.username, label) : undefined),
      password,
      database: params.get('dbname') ?? (url.pathname.length > 1 ? decode(url.pathname.slice(1), label) : undefined),
      ssl,
      sslmode,
      connectTimeoutMs: timeoutMs,
      applicationName: params.get('application_name') ?? 'stripe-credits',
      options: params.get('options'),
    },
  };
}

function readUrl(raw: string, label: string): { url: URL; hostless: boolean } {
  try {
    return { url: new URL(raw), hostless: false };
  } catch {
    // libpq takes a user without a host (postgres://app@/db?host=/var/run/postgresql); URL does not.
    try {
      return { url: new URL(raw.replace('@/', '@hostless.invalid/')), hostless: true };
    } catch {
      throw new ConfigError(`not a valid Postgres URL: ${label}`, `the form is ${PG_URL_FORM}`);
    }
  }
}

function readParams(url: URL, label: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (!PG_PARAMS.includes(k)) {
      throw new ConfigError(
        `unsupported parameter '${k}' in the database URL ${label}`,
        `supported: ${PG_PARAMS.join(', ')}`,
      );
    }
    params.set(k, v);
  }
  return params;
}

function decode(s: string, label: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ConfigError(`the database URL ${label} has a malformed percent-encoding`, `the form is ${PG_URL_FORM}`);
  }
}

function portOf({ params, url, label }: ParsedUrl): number | undefined {
  const portText = params.get('port') ?? url.port;
  const port = portText === '' ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new ConfigError(`bad port '${portText}' in the database URL ${label}`);
  }
  return port;
}

function connectTimeoutMs({ params, label }: ParsedUrl): number {
  const timeoutText = params.get('connect_timeout');
  const timeoutS = timeoutText === undefined ? 10 : Number(timeoutText);
  if (!Number.isFinite(timeoutS) || timeoutS < 0)
    throw new ConfigError(
      `bad connect_timeout '${timeoutText}' in the database URL ${label}`,
      'seconds, e.g. connect_timeout=10',
    );
  return Math.round(timeoutS * 1000);
}

/** A TLS file the URL names, read now, so that a missing one is a configuration error here. */
function readTlsFile({ params, cwd }: ParsedUrl, param: string): string {
  const file = resolve(cwd, params.get(param)!);
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `cannot read ${param} ${file} (from the database URL): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/**
 * TLS, from sslmode as libpq names its values. Unlike libpq, `require` verifies the server's
 * certificate (that is what pg does): trust a private CA with sslrootcert=FILE or NODE_EXTRA_CA_CERTS.
 */
function tlsOf(p: ParsedUrl): { ssl: PgConnection['ssl']; sslmode: string } {
  const { params, label } = p;
  const anyCertParam = params.has('sslrootcert') || params.has('sslcert') || params.has('sslkey');
  const sslmode = params.get('sslmode') ?? (anyCertParam ? 'require' : 'disable');
  switch (sslmode) {
    case 'disable':
      if (anyCertParam)
        throw new ConfigError(
          `the database URL ${label} says sslmode=disable but names certificate files`,
          'drop sslmode=disable to use TLS, or drop sslrootcert/sslcert/sslkey',
        );
      return { ssl: false, sslmode };
    case 'require':
    case 'verify-ca':
    case 'verify-full':
    case 'no-verify':
      return { ssl: verifiedTls(p, sslmode), sslmode };
    case 'allow':
    case 'prefer':
      throw new ConfigError(
        `sslmode=${sslmode} (TLS if the server offers it, else plain) is not supported: the database URL must say whether to use TLS`,
        'use sslmode=require (TLS, certificate verified), sslmode=verify-full, or sslmode=disable (no TLS)',
      );
    default:
      throw new ConfigError(
        `unknown sslmode '${sslmode}' in the database URL ${label}`,
        'use disable, require, verify-ca, verify-full or no-verify',
      );
  }
}

function verifiedTls(p: ParsedUrl, sslmode: string): Exclude<PgConnection['ssl'], false> {
  const ssl: Exclude<PgConnection['ssl'], false> = { rejectUnauthorized: sslmode !== 'no-verify' };
  const root = p.params.get('sslrootcert');
  if (root !== undefined && root !== 'system') ssl.ca = readTlsFile(p, 'sslrootcert');
  if (p.params.has('sslcert')) ssl.cert = readTlsFile(p, 'sslcert');
  if (p.params.has('sslkey')) ssl.key = readTlsFile(p, 'sslkey');
  // verify-ca: the chain is checked, the host name is not.
  if (sslmode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
  return ssl;
}
