/**
 * PEAK_EWMA (`envoy.load_balancing_policies.peak_ewma`, Envoy's contrib policy; also the short
 * `lb_policy: PEAK_EWMA`): power of two choices over cost = RTT estimate × (active requests + 1),
 * as tower/linkerd2-proxy and Finagle do (ENVOY-REFERENCE §6).
 *
 * - RTT sample: from the moment the request is attached to an upstream connection to the moment
 *   its response headers arrive (tower's CompleteOnResponse). Connect time and pool queueing are
 *   left out (they are the pool's and circuit breakers' business); a slow body stream is too.
 *   The router records it (Cluster.recordRtt → HostTable.recordRtt).
 * - The estimate is peak-sensitive (a sample above it replaces it at once) and decays toward 0 with
 *   time constant `decay_time` (τ, not a half-life) when read, so a host avoided for being slow is
 *   tried again once its estimate has decayed below the others' costs. A host without any sample
 *   yet costs `default_rtt` × (active + 1).
 * - Estimate and active requests live in the shared host table: every worker's samples and load
 *   count, not just this worker's slice.
 * - The two candidates are distinct (tower's and linkerd's p2c); with unequal weights they are drawn
 *   in proportion to weight (without replacement). The first drawn wins ties.
 */
import type { ObjectReader } from '../../config/config-reader';
import type { Host } from '../host';
import type { HostTable } from '../host-table';
import type { LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { CumulativeWeights } from './cumulative-weights';
import { allWeightsEqual, trivialLb } from './host-set';

export interface PeakEwmaConfig {
  /** decay_time: the EWMA's time constant τ (ms). Envoy contrib and linkerd default: 10 s. */
  decayTimeMs: number;
  /** default_rtt: the cost basis of a host with no sample yet (ms). Envoy contrib default: 10 ms. */
  defaultRttMs: number;
}

export const PEAK_EWMA_DEFAULTS: Readonly<PeakEwmaConfig> = Object.freeze({
  decayTimeMs: 10_000,
  defaultRttMs: 10,
});

/** Envoy contrib fields with no use in this design: samples are folded in as they arrive. */
const AGGREGATION_FIELDS = ['aggregation_interval', 'max_samples_per_host'];

class PeakEwmaLb implements LoadBalancer {
  private readonly table: HostTable;
  /** Null when all weights are equal (uniform draws, no binary search). */
  private readonly weights: CumulativeWeights | null;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly config: PeakEwmaConfig,
    private readonly env: LbEnv,
  ) {
    this.table = env.hostTable;
    this.weights = allWeightsEqual(hosts) ? null : new CumulativeWeights(hosts);
    for (const h of hosts) this.table.trackRtt(h.slot, config.decayTimeMs);
  }

  chooseHost(): Host {
    const hosts = this.hosts;
    const random = this.env.random;
    const weights = this.weights;
    let a: number;
    let b: number;
    if (weights === null) {
      const n = hosts.length;
      a = Math.floor(random() * n);
      b = Math.floor(random() * (n - 1));
      if (b >= a) b++;
    } else {
      a = weights.draw(random());
      b = weights.drawOther(random(), a);
    }
    const now = this.env.nowMs();
    const first = hosts[a]!;
    const second = hosts[b]!;
    return this.cost(second, now) < this.cost(first, now) ? second : first;
  }

  private cost(host: Host, nowMs: number): number {
    const estimate = this.table.rttEstimateMs(host.slot, nowMs);
    const rtt = estimate < 0 ? this.config.defaultRttMs : estimate;
    return rtt * (Math.max(0, this.table.activeRequests(host.slot)) + 1);
  }
}

export const peakEwmaFactory: LbPolicyFactory<PeakEwmaConfig> = {
  category: 'lb_policy',
  name: 'envoy.load_balancing_policies.peak_ewma',
  typeUrls: [
    'type.googleapis.com/envoy.extensions.load_balancing_policies.peak_ewma.v3alpha.PeakEwma',
    'type.googleapis.com/envoy.extensions.load_balancing_policies.peak_ewma.v3.PeakEwma',
  ],
  enumName: 'PEAK_EWMA',

  /** `lb_policy: PEAK_EWMA` has no cluster-level settings field: Envoy's defaults apply. */
  parseConfig(): PeakEwmaConfig {
    return { ...PEAK_EWMA_DEFAULTS };
  },

  parseTypedConfig(typed: ObjectReader | null): PeakEwmaConfig {
    if (typed === null) return { ...PEAK_EWMA_DEFAULTS };
    const config: PeakEwmaConfig = {
      decayTimeMs: typed.durationMs('decay_time', PEAK_EWMA_DEFAULTS.decayTimeMs),
      defaultRttMs: typed.durationMs('default_rtt', PEAK_EWMA_DEFAULTS.defaultRttMs),
    };
    if (config.decayTimeMs <= 0) typed.error('decay_time', 'must be greater than 0s');
    if (config.defaultRttMs <= 0) typed.error('default_rtt', 'must be greater than 0s');
    for (const field of AGGREGATION_FIELDS) {
      if (!typed.has(field)) continue;
      typed.raw(field);
      typed.warn(field, 'has no effect in Legate: RTT samples are folded into shared memory as they arrive');
    }
    typed.unsupported('penalty_value');
    typed.done();
    return config;
  },

  create(hosts: readonly Host[], config: PeakEwmaConfig, env: LbEnv): LoadBalancer {
    return trivialLb(hosts) ?? new PeakEwmaLb(hosts, config, env);
  },
};
