/**
 * RANDOM (`envoy.load_balancing_policies.random`): each pick draws a host independently.
 *
 * Unlike Envoy, which ignores weights here, unequal weights are honoured (a host is drawn with
 * probability weight / total, by binary search over the cumulative weights), as nginx's and
 * HAProxy's random balancers do: a weight in the config should never be silently without effect.
 */
import type { Host } from '../host';
import type { LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { CumulativeWeights } from './cumulative-weights';
import { allWeightsEqual, trivialLb } from './host-set';

/** RANDOM has no settings. */
export type RandomConfig = Record<string, never>;

class UniformRandomLb implements LoadBalancer {
  constructor(
    private readonly hosts: readonly Host[],
    private readonly env: LbEnv,
  ) {}

  chooseHost(): Host {
    return this.hosts[Math.floor(this.env.random() * this.hosts.length)]!;
  }
}

class WeightedRandomLb implements LoadBalancer {
  private readonly weights: CumulativeWeights;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly env: LbEnv,
  ) {
    this.weights = new CumulativeWeights(hosts);
  }

  chooseHost(): Host {
    return this.hosts[this.weights.draw(this.env.random())]!;
  }
}

export const randomFactory: LbPolicyFactory<RandomConfig> = {
  category: 'lb_policy',
  name: 'envoy.load_balancing_policies.random',
  typeUrls: ['type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random'],
  enumName: 'RANDOM',

  parseConfig(): RandomConfig {
    return {};
  },

  create(hosts: readonly Host[], _config: RandomConfig, env: LbEnv): LoadBalancer {
    return (
      trivialLb(hosts) ??
      (allWeightsEqual(hosts) ? new UniformRandomLb(hosts, env) : new WeightedRandomLb(hosts, env))
    );
  },
};
