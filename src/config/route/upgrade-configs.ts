/**
 * `upgrade_configs` of an HTTP connection manager (`HttpConnectionManager.UpgradeConfig`) and of a
 * route (`RouteAction.UpgradeConfig`): an upgrade token and whether it is enabled there (BoolValue,
 * default true). A token may appear once per list, as Envoy requires.
 */
import type { RouteUpgradeConfig, UpgradeConfig } from '../bootstrap';
import { rejectUnsupported } from '../unsupported';
import type { ObjectReader } from '../config-reader';
import { readBoolValue } from '../bool-value';

/** An RFC 9110 token (what an Upgrade field's protocol name is made of). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function readUpgradeConfig(r: ObjectReader): UpgradeConfig {
  const written = r.requiredString('upgrade_type');
  if (written !== '' && !TOKEN.test(written)) r.error('upgrade_type', `'${written}' is not an HTTP token`);
  return { upgradeType: written.toLowerCase(), enabled: readBoolValue(r, 'enabled', true) };
}

function checkUnique(r: ObjectReader, configs: readonly UpgradeConfig[]): void {
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.upgradeType))
      r.error('upgrade_configs', `upgrade_type '${c.upgradeType}' is configured more than once`);
    seen.add(c.upgradeType);
  }
}

/** The HCM's list. Per-upgrade `filters` (a filter chain of their own) are not supported. */
export function parseHcmUpgradeConfigs(r: ObjectReader): UpgradeConfig[] {
  const configs = r.objectArray('upgrade_configs').map((c) => {
    if (c.objectArray('filters').length > 0)
      c.error('filters', 'not supported by Legate yet: upgrades run the HCM’s http_filters');
    return readUpgradeConfig(c);
  });
  checkUnique(r, configs);
  return configs;
}

/**
 * A route action's list: overrides of the HCM's, per token; `connect_config` on the CONNECT entry
 * terminates CONNECT on this route (its `proxy_protocol_config` and `allow_post` are not supported).
 */
export function parseRouteUpgradeConfigs(r: ObjectReader): RouteUpgradeConfig[] {
  const configs = r.objectArray('upgrade_configs').map((c): RouteUpgradeConfig => {
    const config = readUpgradeConfig(c);
    const connect = c.object('connect_config');
    if (connect !== null) {
      rejectUnsupported(connect, ['proxy_protocol_config', 'allow_post']);
      if (config.upgradeType !== 'connect')
        c.error('connect_config', "connect_config is for upgrade_type 'CONNECT' only");
    }
    return { ...config, terminateConnect: connect !== null };
  });
  checkUnique(r, configs);
  return configs;
}
