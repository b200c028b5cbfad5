/**
 * A node:http origin process for scenarios that need injected latency (the slow endpoint of the LB
 * scenario): `node dist/bench/node-origin.js --port P [--delay-ms D] [--body-bytes N]`.
 */
import { parseArgs } from 'node:util';
import { startOrigin } from '../src/bench/origin';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'delay-ms': { type: 'string', default: '0' },
      'body-bytes': { type: 'string', default: '13' },
    },
  });
  const origin = await startOrigin({
    port: Number(values.port ?? 0),
    delayMs: Number(values['delay-ms']),
    bodyBytes: Number(values['body-bytes']),
  });
  process.stdout.write(`node origin listening on 127.0.0.1:${origin.port}\n`);
  const stop = (): void => void origin.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
