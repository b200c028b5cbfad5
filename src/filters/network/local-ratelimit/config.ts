/** Parses `envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit`. */
import type { ObjectReader } from '../../../config/config-reader';
import { runtimeFeatureFlag } from '../../../config/runtime';
import type { ParseContext } from '../../../registry/registry';
import { createTokenBucketState, type TokenBucketState } from '../../common/local-ratelimit/token-bucket';
import { parseTokenBucket } from '../../common/local-ratelimit/token-bucket-config';

export interface NetworkLocalRateLimitConfig {
  statPrefix: string;
  /** One bucket for the whole process (a SharedArrayBuffer inside), shared by `share_key`. */
  bucket: TokenBucketState;
  /** `runtime_enabled`'s default_value (Legate has no runtime); true when absent. */
  enabled: boolean;
}

export function parseNetworkLocalRateLimit(r: ObjectReader, ctx: ParseContext): NetworkLocalRateLimitConfig {
  const statPrefix = r.requiredString('stat_prefix');
  const params = parseTokenBucket(r.requiredObject('token_bucket'));
  const enabled = runtimeFeatureFlag(r, 'runtime_enabled', true);
  const shareKey = r.string('share_key');
  // As Envoy: filters share a bucket when both the share_key and the token_bucket are equal.
  const key = `envoy.filters.network.local_ratelimit/${shareKey}/${params.maxTokens}/${params.tokensPerFill}/${params.fillIntervalMs}`;
  let bucket = shareKey === '' ? undefined : (ctx.singletons?.get(key) as TokenBucketState | undefined);
  if (bucket === undefined) {
    bucket = createTokenBucketState(params, Date.now());
    if (shareKey !== '') ctx.singletons?.set(key, bucket);
  }
  return { statPrefix, bucket, enabled };
}
