/**
 * File-based xDS on the primary (Envoy's filesystem subscriptions): `dynamic_resources.cds_config`
 * and `lds_config` name files holding a DiscoveryResponse of clusters or listeners. The primary
 * reads them at startup (CDS first, then LDS, as Envoy does), and again whenever a file is moved
 * into place: Envoy watches for moves only, because only a move (`mv new.yaml cds.yaml`) replaces a
 * file atomically; with `watched_directory`, a move of any entry into that directory reloads the
 * file (a Kubernetes ConfigMap swaps a `..data` symlink there).
 *
 * An update is parsed and checked like the bootstrap, with errors located in the xDS file; a valid
 * one is applied through the reload machinery (worker/reload-plane.ts: clusters warmed before they
 * serve, changed listeners take over their sockets, removed ones drain); an invalid one changes
 * nothing, is logged and counted in `update_rejected`, and the last good resources keep serving.
 * The config the workers run is always the bootstrap's static resources plus the last accepted
 * resources of each file (`combine`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type {
  Bootstrap,
  ClusterConfig,
  FilterChainConfig,
  HttpConnectionManagerConfig,
  ListenerConfig,
  RouteConfiguration,
} from '../config/bootstrap';
import { emptyRouteConfiguration } from '../config/route/route-configuration';
import type { FileConfigSource } from '../config/xds/config-source';
import {
  parseDiscoveryResponse,
  type DiscoveryUpdate,
  type ResourceParser,
} from '../config/xds/discovery-response';
import {
  clusterResources,
  endpointResources,
  listenerResources,
  routeResources,
  type ConfigCheck,
  type LoadAssignment,
} from '../config/xds/resources';
import { isClusterTypeFactory } from '../upstream/discovery/api';
import { ConfigError } from '../config/config-error';
import { sameConfig } from '../config/same-config';
import type { Registry } from '../registry/registry';
import type { Counter, Gauge, StatsStore } from '../stats/store';
import { log } from '../common/log';

/** What the primary lends the subscriptions. */
export interface DynamicResourcesHost {
  /** Whether accepted and rejected files are logged (default true; not by `--mode validate`). */
  readonly logsUpdates?: boolean;
  /** Runs `task` after every reload and update queued before it (config changes apply one at a time). */
  enqueue(task: () => Promise<void>): void;
  /** The bootstrap's static resources now serving. */
  statics(): Bootstrap;
  /** Applies a whole config (static + dynamic) as a reload does; resolves with an error text when it could not. */
  apply(next: Bootstrap): Promise<string | null>;
}

/** The resources of one accepted file, as /config_dump shows them. */
export interface AcceptedResources {
  versionInfo: string;
  /** When they were accepted (ISO 8601). */
  lastUpdated: string;
  /** Per resource: its name and the resource as written. */
  resources: { name: string; raw: unknown }[];
}

/** What /config_dump shows of the xDS resources (implemented by DynamicResources). */
export interface DynamicResourcesView {
  /** The accepted clusters, or null without a CDS subscription. */
  readonly clusters: AcceptedResources | null;
  readonly listeners: AcceptedResources | null;
  /** What each RDS subscription accepted (none without RDS). */
  readonly routeConfigs: readonly AcceptedResources[];
  /** Clusters and listeners of the update being applied (built and warming, not serving yet). */
  readonly warmingResources: { clusters: readonly ClusterConfig[]; listeners: readonly ListenerConfig[] };
}

interface Accepted<T> extends AcceptedResources {
  configs: T[];
}

/** Moves arriving within this many ms are one update (a `mv` of several files, a symlink swap). */
const COALESCE_MS = 20;

class Subscription<T extends { name: string }> {
  accepted: Accepted<T> | null = null;
  /** The text last tried (accepted or rejected): a move that brings the same bytes is no update. */
  private lastText: string | null = null;
  private watcher: fs.FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stats: {
    attempt: Counter;
    success: Counter;
    rejected: Counter;
    failure: Counter;
    version: Gauge;
    time: Gauge;
  } | null = null;
  /** What happened to the reads made before the stats existed (counted at `bindStats`). */
  private readonly early: ('success' | 'rejected' | 'failure')[] = [];

  constructor(
    readonly statPrefix: string,
    readonly source: FileConfigSource,
    /** Log what each read did (serving); `--mode validate` reports rejections itself and applies nothing. */
    private readonly logsUpdates: boolean,
    /** RDS: the parser for its connection manager, given the clusters now known. */
    readonly parserFor: ((clusters: readonly ClusterConfig[]) => ResourceParser<T>) | null = null,
  ) {}

  /** The file's text; null (counted as a failure unless the file is gone) when it cannot be read. */
  read(): string | null {
    try {
      return fs.readFileSync(this.source.path, 'utf8');
    } catch (err) {
      // Moved away, or not moved in yet: Envoy reacts to moves into place only.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      log.warn(`xDS: cannot read ${this.source.path}: ${(err as Error).message}`);
      this.count('failure');
      return null;
    }
  }

  /** Whether `text` differs from the text last tried (and remembers it). */
  isNew(text: string): boolean {
    if (text === this.lastText) return false;
    this.lastText = text;
    return true;
  }

  /** Parses `text`; logs and counts a rejection (returning null) when it is invalid. */
  parse(text: string, parser: ResourceParser<T>): DiscoveryUpdate<T> | null {
    try {
      const update = parseDiscoveryResponse(this.source.path, text, parser);
      for (const w of update.warnings) log.warn(`${w.location}: ${w.path}: ${w.message}`);
      return update;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.reject(err.format());
      return null;
    }
  }

  /** Forgets the text last tried, so the same file is tried again (see `retryRejected`). */
  forgetText(): void {
    this.lastText = null;
  }

  /** Whether the text last tried was rejected (the accepted resources are older than the file). */
  get lastRejected(): boolean {
    return this.rejectedText;
  }
  private rejectedText = false;

  /** The errors of the text last rejected (located in the file), null when the last one was accepted. */
  lastRejection: string | null = null;

  reject(errors: string): void {
    this.rejectedText = true;
    this.lastRejection = errors;
    this.count('rejected');
    if (this.logsUpdates)
      log.error(`xDS update from ${this.source.path} rejected; the last good config stays:\n${errors}`);
  }

  accept(update: DiscoveryUpdate<T>): void {
    this.rejectedText = false;
    this.lastRejection = null;
    this.accepted = {
      versionInfo: update.versionInfo,
      lastUpdated: new Date().toISOString(),
      resources: update.resources.map((r, i) => ({ name: r.name, raw: update.raw[i] })),
      configs: update.resources,
    };
    this.count('success');
    if (this.logsUpdates)
      log.info(
        `xDS: ${update.resources.length} resource(s) of ${this.source.path} applied (version '${update.versionInfo}')`,
      );
  }

  bindStats(stats: StatsStore): void {
    const p = this.statPrefix;
    this.stats = {
      attempt: stats.counter(`${p}update_attempt`),
      success: stats.counter(`${p}update_success`),
      rejected: stats.counter(`${p}update_rejected`),
      failure: stats.counter(`${p}update_failure`),
      version: stats.gauge(`${p}version`),
      time: stats.gauge(`${p}update_time`),
    };
    for (const outcome of this.early.splice(0)) this.count(outcome);
  }

  private count(outcome: 'success' | 'rejected' | 'failure'): void {
    const s = this.stats;
    if (s === null) {
      this.early.push(outcome);
      return;
    }
    if (outcome !== 'failure') s.attempt.inc();
    if (outcome === 'failure') s.failure.inc();
    else if (outcome === 'rejected') s.rejected.inc();
    else {
      s.success.inc();
      s.version.set(versionHash(this.accepted?.versionInfo ?? ''));
      s.time.set(Date.now());
    }
  }

  /** Calls `onMove` (coalesced) whenever the file, or an entry of `watched_directory`, is moved into place. */
  watch(onMove: () => void): void {
    if (this.watcher !== null) return;
    // A move between the read that came before and this watch would be missed: look once more.
    onMove();
    const dir = this.source.watchedDirectory ?? path.dirname(this.source.path);
    const file = path.basename(this.source.path);
    const anyEntry = this.source.watchedDirectory !== null;
    try {
      this.watcher = fs.watch(dir, { persistent: false }, (event, name) => {
        // 'rename' is inotify's IN_MOVED_TO (and IN_CREATE / deletions, which read() tells apart);
        // 'change' is a write in place, which Envoy does not watch.
        if (event !== 'rename' || (!anyEntry && name !== file)) return;
        if (this.timer !== null) return;
        this.timer = setTimeout(() => {
          this.timer = null;
          onMove();
        }, COALESCE_MS);
        this.timer.unref();
      });
      this.watcher.on('error', (err) => log.error(`xDS: watching ${dir} failed: ${err.message}`));
    } catch (err) {
      log.error(
        `xDS: cannot watch ${dir}: ${(err as Error).message}; ${this.source.path} will not be reloaded`,
      );
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The subscriptions of a config: its `dynamic_resources`, one per EDS cluster, one per RDS use. */
interface Subscriptions {
  cds: Subscription<ClusterConfig> | null;
  lds: Subscription<ListenerConfig> | null;
  /** Per EDS cluster (static or from CDS), by cluster name (Envoy subscribes per cluster too). */
  eds: Map<string, Subscription<LoadAssignment>>;
  /** Per RDS use (`rdsKey`): connection managers with the same stat_prefix and `rds` share one. */
  rds: Map<string, Subscription<RouteConfiguration>>;
}

/** The EDS assignment a cluster takes its endpoints from (undefined: none known yet). */
type Assignments = (cluster: ClusterConfig) => LoadAssignment | undefined;

/** What the workers' config is made of besides the static resources (see `compose`). */
interface Composition {
  clusters: readonly ClusterConfig[];
  listeners: readonly ListenerConfig[];
  assignments: Assignments;
  /** The route configurations accepted for an RDS use (`rdsKey`). */
  routes: (key: string) => readonly RouteConfiguration[];
}

const HCM = 'envoy.filters.network.http_connection_manager';

export class DynamicResources implements DynamicResourcesView {
  private subs: Subscriptions = { cds: null, lds: null, eds: new Map(), rds: new Map() };
  /** The stats new subscriptions bind to (from the first commit on). */
  private stats: StatsStore | null = null;
  /** Whether files are watched (from `watch()`, once workers serve). */
  private watching = false;
  /** Resources of an update being applied (warming: built, not serving yet), for /config_dump. */
  private warming: { clusters: ClusterConfig[]; listeners: ListenerConfig[] } = {
    clusters: [],
    listeners: [],
  };

  private readonly logsUpdates: boolean;

  constructor(
    private readonly registry: Registry,
    private readonly check: ConfigCheck | undefined,
    private readonly host: DynamicResourcesHost,
  ) {
    this.logsUpdates = host.logsUpdates ?? true;
  }

  /**
   * Startup and reloads: the config to apply for the static resources `statics`, and `commit` to
   * call once it is applied (with the stats laid out for it). A file `statics` did not name before
   * (all of them at startup) is read now: an invalid one is rejected and its resources start
   * empty, as Envoy's initial fetch does; otherwise the last accepted resources stay. A static
   * resource that takes the name of an accepted one is an error (returned as text).
   */
  prepare(
    statics: Bootstrap,
  ): { config: Bootstrap; commit(stats: StatsStore): void; rejections: string[] } | { errors: string } {
    const wanted = statics.dynamicResources;
    const fresh = (kind: 'cds' | 'lds'): boolean =>
      !sameConfig(this.subs[kind]?.source ?? null, wanted?.[kind] ?? null);
    const cds = fresh('cds')
      ? this.newSubscription<ClusterConfig>('cluster_manager.cds.', wanted?.cds)
      : this.subs.cds;
    if (cds !== null && cds !== this.subs.cds) this.initialRead(cds, this.clusterParser(statics));
    const dynamicClusters = cds?.accepted?.configs ?? [];
    const lds = fresh('lds')
      ? this.newSubscription<ListenerConfig>('listener_manager.lds.', wanted?.lds)
      : this.subs.lds;
    if (lds !== null && lds !== this.subs.lds)
      this.initialRead(lds, this.listenerParser(statics, dynamicClusters));
    const dynamicListeners = lds?.accepted?.configs ?? [];
    const allClusters = [...statics.clusters, ...dynamicClusters];
    const next: Subscriptions = {
      cds,
      lds,
      eds: this.edsFor(allClusters),
      rds: this.rdsFor([...statics.listeners, ...dynamicListeners], allClusters),
    };
    const clashes = staticClashes(statics, next);
    if (clashes.length > 0) {
      this.discard(next);
      return { errors: clashes.join('\n') };
    }
    return {
      config: this.compose(statics, {
        clusters: dynamicClusters,
        listeners: dynamicListeners,
        assignments: assignmentsOf(next.eds),
        routes: routesOf(next.rds),
      }),
      commit: (stats) => {
        this.stats = stats;
        this.adopt(next);
      },
      // What the files read now said wrong (`--mode validate` reports them; serving starts without them).
      rejections: subscriptionsOf(next).flatMap((sub) =>
        sub.lastRejection === null ? [] : [sub.lastRejection],
      ),
    };
  }

  /**
   * Starts watching the files (those not watched yet): from now on a move into place applies them
   * (as config changes queued behind the ones before, so none is applied before workers serve).
   */
  watch(): void {
    this.watching = true;
    const { cds, lds, eds } = this.subs;
    cds?.watch(() => this.host.enqueue(() => this.updateClusters(cds)));
    lds?.watch(() => this.host.enqueue(() => this.updateListeners(lds)));
    for (const [cluster, sub] of eds)
      sub.watch(() => this.host.enqueue(() => this.updateEndpoints(cluster, sub)));
    for (const [key, sub] of this.subs.rds)
      sub.watch(() => this.host.enqueue(() => this.updateRouteConfigs(key, sub)));
  }

  get clusters(): AcceptedResources | null {
    return this.subs.cds?.accepted ?? (this.subs.cds ? EMPTY : null);
  }

  get listeners(): AcceptedResources | null {
    return this.subs.lds?.accepted ?? (this.subs.lds ? EMPTY : null);
  }

  get routeConfigs(): readonly AcceptedResources[] {
    return [...this.subs.rds.values()].flatMap((sub) => (sub.accepted === null ? [] : [sub.accepted]));
  }

  get warmingResources(): { clusters: readonly ClusterConfig[]; listeners: readonly ListenerConfig[] } {
    return this.warming;
  }

  close(): void {
    for (const sub of subscriptionsOf(this.subs)) sub.close();
  }

  private newSubscription<T extends { name: string }>(
    statPrefix: string,
    source: FileConfigSource | null | undefined,
  ): Subscription<T> | null {
    return source ? new Subscription<T>(statPrefix, source, this.logsUpdates) : null;
  }

  private initialRead<T extends { name: string }>(sub: Subscription<T>, parser: ResourceParser<T>): void {
    const text = sub.read();
    if (text === null) {
      log.warn(`xDS: ${sub.source.path} is not there; no resources from it until one is moved into place`);
      return;
    }
    sub.isNew(text);
    const update = sub.parse(text, parser);
    if (update !== null) sub.accept(update);
  }

  /**
   * The EDS subscriptions of `clusters`: a cluster that had one for the same file keeps it (and
   * its accepted assignment); a new one reads its file now.
   */
  private edsFor(clusters: readonly ClusterConfig[]): Map<string, Subscription<LoadAssignment>> {
    const subs = new Map<string, Subscription<LoadAssignment>>();
    for (const c of clusters) {
      if (!c.eds) continue;
      const current = this.subs.eds.get(c.name);
      if (current !== undefined && sameConfig(current.source, c.eds.source)) {
        subs.set(c.name, current);
        continue;
      }
      const sub = new Subscription<LoadAssignment>(`cluster.${c.name}.`, c.eds.source, this.logsUpdates);
      this.initialRead(sub, endpointResources(this.registry));
      subs.set(c.name, sub);
    }
    return subs;
  }

  /**
   * The RDS subscriptions of the connection managers of `listeners`: a use that had one keeps it
   * (and its accepted route configurations); a new one reads its file now, its routes checked
   * against `clusters` where they ask (`validate_clusters`).
   */
  private rdsFor(
    listeners: readonly ListenerConfig[],
    clusters: readonly ClusterConfig[],
  ): Map<string, Subscription<RouteConfiguration>> {
    const subs = new Map<string, Subscription<RouteConfiguration>>();
    for (const hcm of rdsUsers(listeners)) {
      const key = rdsKey(hcm);
      if (subs.has(key)) continue;
      const current = this.subs.rds.get(key);
      if (current !== undefined) {
        subs.set(key, current);
        continue;
      }
      const sub = new Subscription<RouteConfiguration>(
        `http.${hcm.statPrefix}.rds.${hcm.rds!.routeConfigName}.`,
        hcm.rds!.source,
        this.logsUpdates,
        (known) => routeResources(this.registry, hcm.httpFilters, known),
      );
      this.initialRead(sub, sub.parserFor!(clusters));
      subs.set(key, sub);
    }
    return subs;
  }

  /** Makes `next` the subscriptions in use: the ones it no longer has stop, new ones count and watch. */
  private adopt(next: Subscriptions): void {
    const kept = new Set(subscriptionsOf(next));
    for (const sub of subscriptionsOf(this.subs)) if (!kept.has(sub)) sub.close();
    const known = new Set(subscriptionsOf(this.subs));
    for (const sub of kept) if (!known.has(sub)) sub.bindStats(this.stats!);
    this.subs = next;
    if (this.watching) this.watch();
  }

  /** Drops the subscriptions `next` opened (it was not applied). */
  private discard(next: Subscriptions): void {
    const known = new Set(subscriptionsOf(this.subs));
    for (const sub of subscriptionsOf(next)) if (!known.has(sub)) sub.close();
  }

  /** The CDS file was moved into place: its clusters (and their EDS files) replace the accepted ones. */
  private async updateClusters(sub: Subscription<ClusterConfig>): Promise<void> {
    const statics = this.host.statics();
    const update = this.readUpdate(sub, this.clusterParser(statics));
    if (update === null) return;
    const next: Subscriptions = {
      ...this.subs,
      eds: this.edsFor([...statics.clusters, ...update.resources]),
    };
    const config = this.compose(statics, {
      clusters: update.resources,
      assignments: assignmentsOf(next.eds),
    });
    if (await this.apply(sub, update, config)) {
      this.adopt(next);
      this.retryRejected();
    } else this.discard(next);
  }

  /**
   * New clusters were accepted: an LDS file rejected for naming a cluster that did not exist yet
   * may be valid now (a directory swap moves both files at once, and either may be read first).
   */
  private retryRejected(): void {
    const lds = this.subs.lds;
    if (lds === null || !lds.lastRejected) return;
    lds.forgetText();
    this.host.enqueue(() => this.updateListeners(lds));
  }

  private async updateListeners(sub: Subscription<ListenerConfig>): Promise<void> {
    const statics = this.host.statics();
    const dynamicClusters = this.subs.cds?.accepted?.configs ?? [];
    const update = this.readUpdate(sub, this.listenerParser(statics, dynamicClusters));
    if (update === null) return;
    const next: Subscriptions = {
      ...this.subs,
      rds: this.rdsFor(
        [...statics.listeners, ...update.resources],
        [...statics.clusters, ...dynamicClusters],
      ),
    };
    const config = this.compose(statics, { listeners: update.resources, routes: routesOf(next.rds) });
    if (await this.apply(sub, update, config)) this.adopt(next);
    else this.discard(next);
  }

  /** An RDS file was moved into place: its route configurations replace the accepted ones. */
  private async updateRouteConfigs(key: string, sub: Subscription<RouteConfiguration>): Promise<void> {
    if (this.subs.rds.get(key) !== sub) return;
    const statics = this.host.statics();
    const clusters = [...statics.clusters, ...(this.subs.cds?.accepted?.configs ?? [])];
    const update = this.readUpdate(sub, sub.parserFor!(clusters));
    if (update === null) return;
    const current = routesOf(this.subs.rds);
    const config = this.compose(statics, {
      routes: (k) => (k === key ? update.resources : current(k)),
    });
    await this.apply(sub, update, config);
  }

  /** The EDS file of `cluster` was moved into place: its assignment gives the cluster new endpoints. */
  private async updateEndpoints(cluster: string, sub: Subscription<LoadAssignment>): Promise<void> {
    if (this.subs.eds.get(cluster) !== sub) return;
    const update = this.readUpdate(sub, endpointResources(this.registry));
    if (update === null) return;
    const current = assignmentsOf(this.subs.eds);
    const config = this.compose(this.host.statics(), {
      assignments: (c) => (c.name === cluster ? assignmentIn(update.resources, c) : current(c)),
    });
    await this.apply(sub, update, config);
  }

  /** The file's new content, parsed; null when it is unchanged, gone or rejected. */
  private readUpdate<T extends { name: string }>(
    sub: Subscription<T>,
    parser: ResourceParser<T>,
  ): DiscoveryUpdate<T> | null {
    const text = sub.read();
    if (text === null || !sub.isNew(text)) return null;
    return sub.parse(text, parser);
  }

  /** Applies `next` (with `update` of `sub` in it); whether it now serves. */
  private async apply<T extends { name: string }>(
    sub: Subscription<T>,
    update: DiscoveryUpdate<T>,
    next: Bootstrap,
  ): Promise<boolean> {
    const current = this.compose(this.host.statics());
    this.warming = {
      clusters: changed(current.clusters, next.clusters),
      listeners: changed(current.listeners, next.listeners),
    };
    try {
      const failed = await this.host.apply(next);
      if (failed !== null) {
        sub.reject(failed);
        return false;
      }
      sub.accept(update);
      return true;
    } finally {
      this.warming = { clusters: [], listeners: [] };
    }
  }

  /**
   * The config workers run: the static resources, then the dynamic ones; EDS clusters with their
   * endpoints, RDS connection managers with their routes. `change` replaces parts of what the
   * subscriptions in use have accepted.
   */
  private compose(statics: Bootstrap, change: Partial<Composition> = {}): Bootstrap {
    const { clusters, listeners, assignments, routes }: Composition = {
      clusters: this.subs.cds?.accepted?.configs ?? [],
      listeners: this.subs.lds?.accepted?.configs ?? [],
      assignments: assignmentsOf(this.subs.eds),
      routes: routesOf(this.subs.rds),
      ...change,
    };
    const eds = this.registry.byEnumName('cluster_type', 'EDS');
    const withEndpoints = (c: ClusterConfig): ClusterConfig => {
      if (!c.eds || eds === undefined || !isClusterTypeFactory(eds)) return c;
      const assignment = assignments(c);
      const endpoints = assignment?.endpoints ?? [];
      return {
        ...c,
        endpoints,
        slotCapacity: eds.slotCapacity(endpoints),
        overprovisioningFactor: assignment?.overprovisioningFactor ?? c.overprovisioningFactor,
        weightedPriorityHealth: assignment?.weightedPriorityHealth ?? c.weightedPriorityHealth,
      };
    };
    return {
      ...statics,
      clusters: [...statics.clusters, ...clusters].map(withEndpoints),
      listeners: [...statics.listeners, ...listeners].map((l) => withRoutes(l, routes)),
    };
  }

  private clusterParser(statics: Bootstrap): ResourceParser<ClusterConfig> {
    return clusterResources(this.registry, statics.clusters, this.check);
  }

  private listenerParser(
    statics: Bootstrap,
    dynamicClusters: readonly ClusterConfig[],
  ): ResourceParser<ListenerConfig> {
    return listenerResources(
      this.registry,
      statics.listeners,
      [...statics.clusters, ...dynamicClusters],
      this.check,
    );
  }
}

const EMPTY: AcceptedResources = { versionInfo: '', lastUpdated: '', resources: [] };

function subscriptionsOf(subs: Subscriptions): Subscription<{ name: string }>[] {
  const all: Subscription<{ name: string }>[] = [...subs.eds.values(), ...subs.rds.values()];
  if (subs.cds !== null) all.push(subs.cds);
  if (subs.lds !== null) all.push(subs.lds);
  return all;
}

/** The connection managers of `listeners` whose routes come from RDS. */
function rdsUsers(listeners: readonly ListenerConfig[]): HttpConnectionManagerConfig[] {
  const users: HttpConnectionManagerConfig[] = [];
  for (const l of listeners)
    for (const chain of chainsOf(l))
      for (const f of chain.filters) {
        const hcm = f.config as HttpConnectionManagerConfig;
        if (f.name === HCM && hcm.rds) users.push(hcm);
      }
  return users;
}

/** Which RDS subscription a connection manager reads: by file, route configuration and stat prefix. */
function rdsKey(hcm: HttpConnectionManagerConfig): string {
  return JSON.stringify([
    hcm.rds!.source.path,
    hcm.rds!.source.watchedDirectory,
    hcm.rds!.routeConfigName,
    hcm.statPrefix,
  ]);
}

function routesOf(rds: ReadonlyMap<string, Subscription<RouteConfiguration>>): Composition['routes'] {
  return (key) => rds.get(key)?.accepted?.configs ?? [];
}

function chainsOf(l: ListenerConfig): FilterChainConfig[] {
  return l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
}

/** `l` with the routes RDS gave its connection managers (the same object when it has no RDS). */
function withRoutes(l: ListenerConfig, routes: Composition['routes']): ListenerConfig {
  if (rdsUsers([l]).length === 0) return l;
  const chain = (c: FilterChainConfig): FilterChainConfig => ({
    ...c,
    filters: c.filters.map((f) => {
      const hcm = f.config as HttpConnectionManagerConfig;
      if (f.name !== HCM || !hcm.rds) return f;
      const name = hcm.rds.routeConfigName;
      const routeConfig =
        routes(rdsKey(hcm)).find((r) => r.name === name) ??
        emptyRouteConfiguration(`${hcm.rds.source.at}`, name);
      return { ...f, config: { ...hcm, routeConfig } };
    }),
  });
  return {
    ...l,
    filterChains: l.filterChains.map(chain),
    defaultFilterChain: l.defaultFilterChain ? chain(l.defaultFilterChain) : l.defaultFilterChain,
  };
}

/** Each EDS cluster's assignment, from the accepted resources of its subscription. */
function assignmentsOf(eds: ReadonlyMap<string, Subscription<LoadAssignment>>): Assignments {
  return (c) => assignmentIn(eds.get(c.name)?.accepted?.configs ?? [], c);
}

/** The assignment of an EDS cluster in `resources`: the one named by its service_name. */
function assignmentIn(resources: readonly LoadAssignment[], c: ClusterConfig): LoadAssignment | undefined {
  return resources.find((a) => a.name === c.eds?.serviceName);
}

/** The items of `next` that are new or differ from `current`'s item of the same name. */
function changed<T extends { name: string }>(current: readonly T[], next: readonly T[]): T[] {
  const before = new Map(current.map((c) => [c.name, c]));
  return next.filter((n) => !sameConfig(before.get(n.name), n));
}

/** A reload's static resources that take the name of an accepted dynamic one (each as an error line). */
function staticClashes(statics: Bootstrap, subs: Subscriptions): string[] {
  const clashes: string[] = [];
  const check = (
    kind: 'cluster' | 'listener',
    fixed: readonly { name: string; at: string }[],
    sub: Subscription<ClusterConfig> | Subscription<ListenerConfig> | null,
  ): void => {
    const byName = new Map(fixed.map((f) => [f.name, f.at]));
    for (const r of sub?.accepted?.configs ?? []) {
      const at = byName.get(r.name);
      if (at !== undefined)
        clashes.push(
          `${statics.sourcePath || '<config>'}: error: ${at}: ${kind} '${r.name}' is also a resource of ${sub!.source.path} (${r.at})`,
        );
    }
  };
  check('cluster', statics.clusters, subs.cds);
  check('listener', statics.listeners, subs.lds);
  return clashes;
}

/** Envoy's `version` gauge is a hash of version_info; this one fits a double exactly (48 bits). */
function versionHash(versionInfo: string): number {
  return versionInfo === '' ? 0 : createHash('sha256').update(versionInfo).digest().readUIntBE(0, 6);
}
