/**
 * The one list of built-in extensions. Adding an extension is one line here (plus its folder);
 * nothing else in Legate switches over extension names.
 */
import { routerFactory } from '../filters/http/router/factory';
import { httpConnectionManagerFactory } from '../filters/network/http-connection-manager/factory';
import { leastRequestFactory } from '../upstream/lb/least-request';
import { randomFactory } from '../upstream/lb/random';
import { roundRobinFactory } from '../upstream/lb/round-robin';
import { type ExtensionFactory, Registry } from './registry';

const BUILTIN_FACTORIES: readonly ExtensionFactory[] = [
  httpConnectionManagerFactory,
  routerFactory,
  roundRobinFactory,
  leastRequestFactory,
  randomFactory,
];

/** A registry holding every built-in extension. */
export function createBuiltinRegistry(): Registry {
  const registry = new Registry();
  for (const factory of BUILTIN_FACTORIES) registry.register(factory);
  return registry;
}
