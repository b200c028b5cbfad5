/**
 * `event_log_path`: Envoy's health check event log, one `envoy.data.core.v3.HealthCheckEvent` per
 * line as proto3 JSON with field names kept and primitive fields always printed (Envoy's file sink
 * format), e.g.
 *
 *   {"health_checker_type":"HTTP","host":{"socket_address":{"protocol":"TCP","address":"10.0.0.1",
 *   "port_value":443,"resolver_name":"","ipv4_compat":false}},"cluster_name":"web",
 *   "eject_unhealthy_event":{"failure_type":"ACTIVE"},"timestamp":"2009-02-13T23:31:31.234Z"}
 *
 * Lines are written synchronously: the checker runs on the primary thread, off the data path,
 * events are rare (transitions, first checks), and a line written at once is never lost when the
 * process exits.
 */
import * as fs from 'node:fs';
import { log } from '../../common/log';
import type { Host } from '../host';
import type { CheckOutcome } from './health-state';

export type HealthCheckerType = 'HTTP' | 'TCP' | 'GRPC';

/** Envoy's HealthCheckFailureType of a failed check. */
function failureType(outcome: CheckOutcome): string {
  switch (outcome) {
    case 'network_failure':
      return 'NETWORK';
    case 'network_timeout':
      return 'NETWORK_TIMEOUT';
    default:
      return 'ACTIVE';
  }
}

export class HealthEventLog {
  private fd: number | null;

  /** Opens `path` for append now, so a bad path fails at startup as in Envoy. */
  constructor(
    private readonly path: string,
    private readonly clusterName: string,
    private readonly checkerType: HealthCheckerType,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.fd = fs.openSync(path, 'a');
  }

  /** The host became healthy (`first_check`: by its first check, bypassing healthy_threshold). */
  addHealthy(host: Host, firstCheck: boolean): void {
    this.write(host, 'add_healthy_event', { first_check: firstCheck });
  }

  /** The host became unhealthy because of `outcome`. */
  ejectUnhealthy(host: Host, outcome: CheckOutcome): void {
    this.write(host, 'eject_unhealthy_event', { failure_type: failureType(outcome) });
  }

  /** A failed check (logged for a host's first check, or every one with always_log_health_check_failures). */
  failure(host: Host, outcome: CheckOutcome, firstCheck: boolean): void {
    this.write(host, 'health_check_failure_event', {
      failure_type: failureType(outcome),
      first_check: firstCheck,
    });
  }

  /** A passed check that changed nothing (always_log_health_check_success). */
  success(host: Host): void {
    this.write(host, 'successful_health_check_event', {});
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private write(host: Host, event: string, body: Record<string, unknown>): void {
    if (this.fd === null) return;
    const line = JSON.stringify({
      health_checker_type: this.checkerType,
      host: {
        socket_address: {
          protocol: 'TCP',
          address: host.address,
          port_value: host.port,
          resolver_name: '',
          ipv4_compat: false,
        },
      },
      cluster_name: this.clusterName,
      [event]: body,
      timestamp: this.now().toISOString(),
    });
    try {
      fs.writeSync(this.fd, line + '\n');
    } catch (err) {
      log.error(`health check event log ${this.path}: ${(err as Error).message}; no more events are logged`);
      this.close();
    }
  }
}
