// Runnable simulator:
//   node dist/simulator/main.js --port 12111 [--fixture file.json]... [--latency-ms N] [--key sk_test_x]...
//     [--restricted-key rk_test_x=rak_checkout_session_read,rak_payment_intent_read]...
//     [--seed N] [--rate-429 P] [--rate-500 P] [--rate-reset P]
//     [--rate-limit N] [--endpoint-rate-limit N] [--livemode]
// Prints `listening http://127.0.0.1:PORT` on stdout and runs until SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PERMISSIONS, startSimulator, type FaultOptions, type SimulatorPermission } from './server.js';
import type { Fixture } from './store.js';

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) {
    process.stderr.write(`--${name}: not a number: ${v}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      fixture: { type: 'string', multiple: true },
      'latency-ms': { type: 'string' },
      key: { type: 'string', multiple: true },
      'restricted-key': { type: 'string', multiple: true },
      seed: { type: 'string' },
      'rate-429': { type: 'string' },
      'rate-500': { type: 'string' },
      'rate-reset': { type: 'string' },
      'rate-limit': { type: 'string' },
      'endpoint-rate-limit': { type: 'string' },
      livemode: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });

  const faults: Partial<FaultOptions> = {};
  const set = <K extends keyof FaultOptions>(k: K, v: FaultOptions[K] | undefined) => {
    if (v !== undefined) faults[k] = v;
  };
  set('latencyMs', num('latency-ms', values['latency-ms']));
  set('seed', num('seed', values.seed));
  set('rate429', num('rate-429', values['rate-429']));
  set('rate500', num('rate-500', values['rate-500']));
  set('rateReset', num('rate-reset', values['rate-reset']));
  set('rateLimitPerSecond', num('rate-limit', values['rate-limit']));
  set('rateLimitPerEndpointPerSecond', num('endpoint-rate-limit', values['endpoint-rate-limit']));

  const restrictedKeys: Record<string, SimulatorPermission[]> = {};
  for (const spec of values['restricted-key'] ?? []) {
    const [key = '', perms = ''] = spec.split('=');
    const list = perms.split(',').filter((p) => p !== '');
    const unknown = list.filter((p) => !(p in PERMISSIONS));
    if (!key.startsWith('rk_') || unknown.length > 0) {
      process.stderr.write(
        `--restricted-key: expected rk_…=PERMISSION,… (known: ${Object.keys(PERMISSIONS).join(', ')}), not ${spec}\n`,
      );
      process.exit(2);
    }
    restrictedKeys[key] = list as SimulatorPermission[];
  }

  const sim = await startSimulator({
    restrictedKeys,
    port: num('port', values.port) ?? 0,
    apiKeys: values.key && values.key.length > 0 ? values.key : undefined,
    livemode: values.livemode,
    faults,
  });
  for (const file of values.fixture ?? []) {
    sim.store.loadFixture(JSON.parse(readFileSync(file, 'utf8')) as Fixture);
  }
  process.stdout.write(`listening ${sim.url}\n`);

  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`stripe simulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
