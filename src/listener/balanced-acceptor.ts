/**
 * The primary thread's accept loop for an `exact_balance` listener (see exact-balance.ts): it
 * listens on the listener's address, reads nothing (pauseOnConnect), and hands each connection's
 * fd to the worker with the fewest active connections of the listener.
 */
import * as net from 'node:net';
import type { ListenerConfig } from '../config/bootstrap';
import { log } from '../common/log';
import { loadNative, takeAcceptedSocketFd } from '../native';
import type { ExactBalance } from './exact-balance';

export interface BalancedAcceptorHooks {
  /** Whether `worker` can take connections now (running, not draining). */
  usable(worker: number): boolean;
  /** Tells `worker` that its mailbox `slot` holds a connection. */
  deliver(worker: number, slot: number): void;
}

export class BalancedAcceptor {
  private readonly server: net.Server;

  constructor(
    private readonly config: ListenerConfig,
    private readonly balance: ExactBalance,
    private readonly hooks: BalancedAcceptorHooks,
  ) {
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.onConnection(socket));
  }

  /** Binds `port` (0 = any) on the listener's address; resolves with the bound port. */
  start(port: number): Promise<number> {
    const { server } = this;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.config.address.address, port, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): void {
    this.server.close();
  }

  private onConnection(socket: net.Socket): void {
    const name = this.config.name;
    const worker = this.balance.leastLoaded(name, this.hooks.usable);
    if (worker < 0) {
      socket.destroy(); // no worker running (all restarting or draining)
      return;
    }
    let fd: number | null;
    try {
      fd = takeAcceptedSocketFd(socket);
    } catch (err) {
      log.warn(`listener '${name}': cannot hand a connection over: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    if (fd === null) {
      socket.destroy();
      return;
    }
    const slot = this.balance.post(worker, name, fd);
    if (slot < 0) {
      log.warn(`listener '${name}': worker ${worker} has too many connections waiting; closing one`);
      loadNative()!.close(fd);
      return;
    }
    this.hooks.deliver(worker, slot);
  }
}
