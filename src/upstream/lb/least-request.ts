/**
 * LEAST_REQUEST (`envoy.load_balancing_policies.least_request`), read from the shared host table so
 * that load sent by every worker counts, not just this one's.
 *
 * Equal weights: power of `choice_count` choices (default 2). Draw that many hosts at random (with
 * replacement, as Envoy does) and take the one with the fewest active requests; the first drawn wins
 * ties. Unequal weights: earliest-deadline-first where a host's weight is recomputed each time it is
 * picked as `weight / (active + 1) ^ active_request_bias` (bias 1.0 by default, 0 = plain weighted RR).
 */
import type { ObjectReader } from '../../config/config-reader';
import type { Host } from '../host';
import type { HostTable } from '../host-table';
import type { LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { EdfScheduler } from './edf';
import { allWeightsEqual, trivialLb } from './host-set';

export interface LeastRequestConfig {
  /** least_request_lb_config.choice_count, >= 2. */
  choiceCount: number;
  /** least_request_lb_config.active_request_bias.default_value, >= 0. */
  activeRequestBias: number;
}

const DEFAULT_CHOICE_COUNT = 2;
const DEFAULT_BIAS = 1;

class PowerOfChoicesLb implements LoadBalancer {
  private readonly table: HostTable;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly choiceCount: number,
    private readonly env: LbEnv,
  ) {
    this.table = env.hostTable;
  }

  chooseHost(): Host {
    const hosts = this.hosts;
    const n = hosts.length;
    let best = hosts[Math.floor(this.env.random() * n)]!;
    let bestActive = this.table.activeRequests(best.slot);
    for (let i = 1; i < this.choiceCount; i++) {
      const candidate = hosts[Math.floor(this.env.random() * n)]!;
      const active = this.table.activeRequests(candidate.slot);
      if (active < bestActive) {
        best = candidate;
        bestActive = active;
      }
    }
    return best;
  }
}

class WeightedLeastRequestLb implements LoadBalancer {
  private readonly scheduler: EdfScheduler;
  private readonly table: HostTable;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly bias: number,
    env: LbEnv,
  ) {
    this.table = env.hostTable;
    this.scheduler = new EdfScheduler(hosts.length);
    for (let i = 0; i < hosts.length; i++) this.scheduler.add(i, this.effectiveWeight(hosts[i]!));
  }

  chooseHost(): Host {
    const host = this.hosts[this.scheduler.earliest()]!;
    this.scheduler.advanceEarliest(this.effectiveWeight(host));
    return host;
  }

  private effectiveWeight(host: Host): number {
    const load = Math.max(0, this.table.activeRequests(host.slot)) + 1;
    if (this.bias === 1) return host.weight / load;
    return host.weight / Math.pow(load, this.bias);
  }
}

export const leastRequestFactory: LbPolicyFactory<LeastRequestConfig> = {
  category: 'lb_policy',
  name: 'envoy.load_balancing_policies.least_request',
  typeUrls: ['type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest'],
  enumName: 'LEAST_REQUEST',

  parseConfig(cluster: ObjectReader | null): LeastRequestConfig {
    const config: LeastRequestConfig = { choiceCount: DEFAULT_CHOICE_COUNT, activeRequestBias: DEFAULT_BIAS };
    const lr = cluster?.object('least_request_lb_config');
    if (!lr) return config;
    config.choiceCount = lr.wrappedUint('choice_count', DEFAULT_CHOICE_COUNT, { min: 2 });
    const bias = lr.object('active_request_bias');
    if (bias) {
      config.activeRequestBias = readBias(bias);
      bias.done();
    }
    if (lr.has('slow_start_config')) lr.unsupported('slow_start_config');
    lr.done();
    return config;
  },

  create(hosts: readonly Host[], config: LeastRequestConfig, env: LbEnv): LoadBalancer {
    return (
      trivialLb(hosts) ??
      (allWeightsEqual(hosts)
        ? new PowerOfChoicesLb(hosts, config.choiceCount, env)
        : new WeightedLeastRequestLb(hosts, config.activeRequestBias, env))
    );
  },
};

/** `active_request_bias` is a RuntimeDouble `{ default_value, runtime_key }`; runtime is not supported. */
function readBias(reader: ObjectReader): number {
  const value = reader.raw('default_value');
  if (reader.has('runtime_key')) {
    reader.string('runtime_key');
    reader.warn('runtime_key', 'runtime overrides are not supported; default_value is used');
  }
  if (value === undefined) return DEFAULT_BIAS;
  const bias = typeof value === 'string' ? Number(value) : value;
  if (typeof bias !== 'number' || !Number.isFinite(bias) || bias < 0) {
    reader.error('default_value', 'expected a non-negative number');
    return DEFAULT_BIAS;
  }
  return bias;
}
