/**
 * One TCP health check (Envoy's TcpHealthCheckerImpl): connect, write `send`, and succeed once the
 * bytes read contain every `receive` payload in order (with no payloads, connecting succeeds).
 * A refused or reset connection is a network failure, no match within the timeout a network timeout. Each check
 * opens its own connection (reuse_connection is not applied to TCP checks).
 */
import * as net from 'node:net';
import type { TcpHealthCheckConfig } from '../../config/bootstrap';
import type { CheckOutcome } from './health-state';
import type { Probe } from './probe';

/** Whether `data` contains the payloads one after another (gaps allowed), as Envoy matches. */
export function containsInOrder(data: Buffer, payloads: readonly Buffer[]): boolean {
  let from = 0;
  for (const p of payloads) {
    const at = data.indexOf(p, from);
    if (at < 0) return false;
    from = at + p.length;
  }
  return true;
}

export function tcpProbe(config: TcpHealthCheckConfig, address: string, port: number): Probe {
  const send = Buffer.from(config.send, 'hex');
  const receive = config.receive.map((hex) => Buffer.from(hex, 'hex'));
  return {
    check: (timeoutMs) =>
      new Promise<CheckOutcome>((resolve) => {
        let received = Buffer.alloc(0);
        const socket = net.connect({ host: address, port });
        const finish = (outcome: CheckOutcome): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve(outcome);
        };
        const timer = setTimeout(() => finish('network_timeout'), timeoutMs);
        socket.on('connect', () => {
          if (send.length > 0) socket.write(send);
          if (receive.length === 0) finish('success');
        });
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          if (containsInOrder(received, receive)) finish('success');
        });
        socket.on('error', () => finish('network_failure'));
        socket.on('close', () => finish('network_failure'));
      }),
    close: () => {},
  };
}
