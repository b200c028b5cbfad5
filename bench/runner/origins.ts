/**
 * Origins a scenario can stand behind the proxies: nginx serving static bodies (13 B at `/`,
 * `/1k`, `/64k`, as in the bench anchors), node:http origins with per-origin injected delay (one
 * slow endpoint among several), an iperf3 server for L4 bulk throughput, or a @grpc/grpc-js
 * server answering unary calls (grpc-origin.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, stopProcess, waitForPort, type Managed } from './processes';
import { writeConfig } from './templates';

export type OriginSpec =
  | { type: 'nginx-static' }
  | { type: 'node'; delaysMs: number[] }
  | { type: 'iperf3' }
  | { type: 'grpc-node' };

export interface RunningOrigin {
  ports: number[];
  /** The origin processes; node origins: `processes[i]` serves `ports[i]`. */
  processes: Managed[];
  /** Node origins: starts origin `i` again on its port (after it was killed); appends to its log. */
  restart(i: number): Promise<void>;
}

export function originPrograms(spec: OriginSpec): string[] {
  return spec.type === 'nginx-static' ? ['nginx'] : spec.type === 'iperf3' ? ['iperf3'] : [];
}

const notRestartable = (): Promise<void> => Promise.reject(new Error('only node origins can be restarted'));

async function startNodeOrigin(
  i: number,
  port: number,
  delayMs: number,
  runDir: string,
  again: boolean,
): Promise<Managed> {
  const m = startProcess(
    `origin node-${i}`,
    process.execPath,
    [join(__dirname, '..', 'node-origin.js'), '--port', String(port), '--delay-ms', String(delayMs)],
    join(runDir, `origin-node-${i}.log`),
    undefined,
    again,
  );
  try {
    await waitForPort(m, port);
  } catch (err) {
    await stopProcess(m);
    throw err;
  }
  return m;
}

/** How a one-process origin serving `port` is started: program and arguments. */
function singleOriginCommand(
  type: 'nginx-static' | 'iperf3' | 'grpc-node',
  port: number,
  benchDir: string,
  runDir: string,
): [string, string[]] {
  switch (type) {
    case 'nginx-static': {
      const www = join(runDir, 'www');
      mkdirSync(www, { recursive: true });
      writeFileSync(join(www, '1k'), Buffer.alloc(1024, 'a'));
      writeFileSync(join(www, '64k'), Buffer.alloc(65536, 'b'));
      const conf = writeConfig(benchDir, 'nginx-origin.conf', runDir, 'nginx-origin.conf', { PORT: port });
      return ['nginx', ['-c', conf, '-e', join(runDir, 'nginx-origin.err')]];
    }
    case 'iperf3':
      return ['iperf3', ['-s', '-p', String(port)]];
    case 'grpc-node':
      return [process.execPath, [join(__dirname, '..', 'grpc-origin.js'), '--port', String(port)]];
  }
}

export async function startOrigin(
  spec: OriginSpec,
  benchDir: string,
  runDir: string,
): Promise<RunningOrigin> {
  const started: Managed[] = [];
  try {
    if (spec.type !== 'node') {
      const port = await freePort();
      const [command, args] = singleOriginCommand(spec.type, port, benchDir, runDir);
      const m = startProcess(`origin ${spec.type}`, command, args, join(runDir, `origin-${spec.type}.log`));
      started.push(m);
      await waitForPort(m, port);
      return { ports: [port], processes: started, restart: notRestartable };
    }
    const ports: number[] = [];
    for (const [i, delay] of spec.delaysMs.entries()) {
      const port = await freePort();
      started.push(await startNodeOrigin(i, port, delay, runDir, false));
      ports.push(port);
    }
    return {
      ports,
      processes: started,
      async restart(i) {
        started[i] = await startNodeOrigin(i, ports[i]!, spec.delaysMs[i]!, runDir, true);
      },
    };
  } catch (err) {
    await Promise.all(started.map(stopProcess));
    throw err;
  }
}
