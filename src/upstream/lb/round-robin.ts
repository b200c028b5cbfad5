/**
 * ROUND_ROBIN (`envoy.load_balancing_policies.round_robin`), Envoy's default policy. Equal weights:
 * a cursor over the hosts. Unequal weights: earliest-deadline-first, so a host of weight 3 gets three
 * picks in every six against a host of weight 1 and 2, spread out rather than in a burst.
 *
 * The cursor is per worker (as in Envoy, see ENVOY-REFERENCE §3 row 8); each worker starts at a
 * random position so that N workers do not all send their first request to the same host.
 */
import type { ObjectReader } from '../../config/config-reader';
import type { Host } from '../host';
import type { LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { EdfScheduler } from './edf';
import { allWeightsEqual, trivialLb } from './host-set';

/** Nothing to configure yet: `round_robin_lb_config` only holds slow_start_config (unsupported). */
export type RoundRobinConfig = Record<string, never>;

class UnweightedRoundRobinLb implements LoadBalancer {
  private cursor: number;

  constructor(
    private readonly hosts: readonly Host[],
    env: LbEnv,
  ) {
    this.cursor = Math.floor(env.random() * hosts.length);
  }

  chooseHost(): Host {
    const hosts = this.hosts;
    const i = this.cursor;
    this.cursor = i + 1 === hosts.length ? 0 : i + 1;
    return hosts[i]!;
  }
}

class WeightedRoundRobinLb implements LoadBalancer {
  private readonly scheduler: EdfScheduler;

  constructor(
    private readonly hosts: readonly Host[],
    env: LbEnv,
  ) {
    this.scheduler = new EdfScheduler(hosts.length);
    for (let i = 0; i < hosts.length; i++) this.scheduler.add(i, hosts[i]!.weight);
    // Start each worker at a different point of the schedule.
    const skip = Math.floor(env.random() * hosts.length);
    for (let i = 0; i < skip; i++) this.chooseHost();
  }

  chooseHost(): Host {
    const host = this.hosts[this.scheduler.earliest()]!;
    this.scheduler.advanceEarliest(host.weight);
    return host;
  }
}

export const roundRobinFactory: LbPolicyFactory<RoundRobinConfig> = {
  category: 'lb_policy',
  name: 'envoy.load_balancing_policies.round_robin',
  typeUrls: ['type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin'],
  enumName: 'ROUND_ROBIN',

  parseConfig(cluster: ObjectReader | null): RoundRobinConfig {
    const rr = cluster?.object('round_robin_lb_config');
    if (rr) {
      if (rr.has('slow_start_config')) rr.unsupported('slow_start_config');
      rr.done();
    }
    return {};
  },

  create(hosts: readonly Host[], _config: RoundRobinConfig, env: LbEnv): LoadBalancer {
    return (
      trivialLb(hosts) ??
      (allWeightsEqual(hosts) ? new UnweightedRoundRobinLb(hosts, env) : new WeightedRoundRobinLb(hosts, env))
    );
  },
};
