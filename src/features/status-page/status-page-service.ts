import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Histogram, type Registry } from 'prom-client';
import type { ClientConfig, IncidentdConfig } from '../../config/config-schema';
import type { ConfigStore } from '../../config/config-store';
import type { Clock } from '../../platform/clock';
import { NotFoundError, UnavailableError } from '../../platform/errors';
import type { EventBus } from '../../platform/event-bus';
import type { ViewRenderer } from '../../platform/http/views';
import type { Logger } from '../../platform/logger';
import type { MaintenanceSource } from './maintenance-source';
import { HISTORY_DAYS, loadStatusModel, type StatusModel } from './status-model';
import { presentStatuspage, type ComponentHistory, type StatuspageEndpoint } from './statuspage-presenter';
import { STATUS_LABELS } from './status-rules';
import { atomFeed, liveView, uptimeView } from './status-views';

/** Even with nothing happening, a cached page is rebuilt this often (config reloads, missed events). */
const MAX_AGE_MS = 60_000;
/** After a failed build (the database away), the next try comes after this, doubling up to MAX_AGE_MS. */
const RETRY_FIRST_MS = 1_000;

/** One client's page, rendered once per change and shared by every viewer. */
export interface StatusSnapshot {
  clientId: string;
  /** The configuration it was built from; a reload makes it stale. */
  config: IncidentdConfig;
  model: StatusModel;
  pageUrl: string;
  /** Changes whenever anything but the uptime bars changes; the ETag of every document. */
  version: string;
  /** Increases with every build: pages ignore a push older than what they show. */
  sequence: number;
  /** Statuspage API v2 bodies, serialized and encoded once. */
  documents: Record<StatuspageEndpoint, Buffer>;
  /** The live part of the page, as HTML. */
  liveHtml: string;
  /** The uptime bars, as HTML, and their own version (they change less often). */
  uptimeHtml: string;
  atom: Buffer;
  /**
   * What open pages receive over socket.io: the live part (HTML, with the statuses also as
   * data) and, ahead of a large live part only, the statuses alone (see status-socket.ts).
   */
  statusPayload: { version: string; sequence: number; indicator: string; description: string; components: { id: string; status: string; label: string }[] };
  livePayload: StatusSnapshot['statusPayload'] & { html: string };
  uptimePayload: { version: string; sequence: number; html: string };
}

interface CacheEntry {
  snapshot: StatusSnapshot | null;
  building: Promise<StatusSnapshot> | null;
  /** A change arrived while building: build once more when done. */
  dirty: boolean;
  timer: NodeJS.Timeout | null;
  /** Builds that failed in a row (for the retry backoff). */
  failures: number;
  history: Map<string, ComponentHistory>;
}

export type StatusPageService = ReturnType<typeof createStatusPageService>;

/**
 * The status page state cache. Each client's page is built from the database once per
 * change (incident events, maintenance changes, overrides, a new day, a config reload) and
 * then served to every viewer from memory: HTML, JSON, feed and live pushes alike. Builds
 * are single-flight per client: changes that arrive during a build cause one more build,
 * not one each, so an alert storm costs a few rebuilds per second at most.
 */
export function createStatusPageService(deps: { orm: MikroORM; clock: Clock; configStore: ConfigStore; maintenance: MaintenanceSource; bus: EventBus; views: ViewRenderer; logger: Logger; registry: Registry }) {
  const { clock, configStore, logger } = deps;
  // A change reaches open pages only after a build: part of every update's delivery time.
  const buildDuration = new Histogram({
    name: 'incidentd_status_build_seconds',
    help: 'Time to build a client status page from the database (model, documents, HTML)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [deps.registry],
  });
  const entries = new Map<string, CacheEntry>();
  const listeners: ((snapshot: StatusSnapshot, previous: StatusSnapshot | null) => void)[] = [];
  let stopped = false;
  let builds = 0;

  function clientConfig(clientId: string): ClientConfig {
    const client = configStore.current.clients.find((candidate) => candidate.id === clientId);
    if (!client) throw new NotFoundError(`no status page "${clientId}"`);
    return client;
  }

  async function build(clientId: string, entry: CacheEntry): Promise<StatusSnapshot> {
    const config = configStore.current;
    const client = clientConfig(clientId);
    const now = clock.now();
    const model = await loadStatusModel(deps.orm.em.fork(), { config, client, maintenance: deps.maintenance, now });
    // Statuspage's component created_at / updated_at. Nothing stores when a service entered
    // the configuration, nor every status change of a component (an override expiring, say).
    // So both come from the stored data that touched the component in the last HISTORY_DAYS
    // days (model.firstSeen / lastChange: the same after a restart); a status change with no
    // such data is dated when this process saw it; a component nothing touched is dated at
    // the start of the history window when this process first built it ("at least that
    // old"), which moves with a restart: a known limitation.
    const windowStart = new Date(now.getTime() - HISTORY_DAYS * 86_400_000);
    for (const component of model.components) {
      const seen = entry.history.get(component.id) ?? { createdAt: windowStart, status: component.status, updatedAt: windowStart };
      const changedAt = seen.status !== component.status ? now : seen.updatedAt;
      entry.history.set(component.id, {
        createdAt: component.firstSeen ?? seen.createdAt,
        status: component.status,
        updatedAt: new Date(Math.max(component.lastChange?.getTime() ?? 0, changedAt.getTime())),
      });
    }
    const pageUrl = `${config.server.publicUrl.replace(/\/$/, '')}/status/${client.id}`;
    const documents = Object.fromEntries(Object.entries(presentStatuspage(model, pageUrl, entry.history)).map(([name, body]) => [name, Buffer.from(JSON.stringify(body))])) as Record<StatuspageEndpoint, Buffer>;
    const liveHtml = deps.views.fragment('status/live', liveView(model, pageUrl));
    const uptimeHtml = deps.views.fragment('status/uptime', uptimeView(model));
    const hash = (...parts: (string | Buffer)[]) => parts.reduce((h, part) => h.update(part), createHash('sha256')).digest('base64url').slice(0, 20);
    // The uptime bars have their own version: they are not in the JSON documents, whose ETag this is.
    const version = hash(documents['summary.json'], documents['incidents.json'], liveHtml);
    const sequence = (builds += 1);
    const statusPayload = { version, sequence, indicator: model.overall.indicator, description: model.overall.description, components: model.components.map((c) => ({ id: c.id, status: c.status, label: STATUS_LABELS[c.status] })) };
    return {
      clientId,
      config,
      model,
      pageUrl,
      version,
      sequence,
      documents,
      liveHtml,
      uptimeHtml,
      atom: Buffer.from(atomFeed(model, pageUrl)),
      statusPayload,
      livePayload: { ...statusPayload, html: liveHtml },
      uptimePayload: { version: hash(uptimeHtml), sequence, html: uptimeHtml },
    };
  }

  function refresh(clientId: string, entry: CacheEntry): Promise<StatusSnapshot> {
    if (entry.building) {
      entry.dirty = true;
      return entry.building;
    }
    entry.building = (async () => {
      try {
        let snapshot: StatusSnapshot;
        do {
          entry.dirty = false;
          const timer = buildDuration.startTimer();
          snapshot = await build(clientId, entry);
          timer();
        } while (entry.dirty);
        const previous = entry.snapshot;
        entry.snapshot = snapshot;
        entry.failures = 0;
        schedule(clientId, entry, Math.max(snapshot.model.nextTransition.getTime() - clock.now().getTime(), 0) + 50);
        if (snapshot.version !== previous?.version || snapshot.uptimePayload.version !== previous.uptimePayload.version) for (const listener of listeners) listener(snapshot, previous);
        return snapshot;
      } catch (error) {
        // Whatever failed, the clock must keep driving the page (maintenance starting,
        // overrides expiring, the day turning): try again soon, then less and less often.
        entry.failures += 1;
        schedule(clientId, entry, RETRY_FIRST_MS * 2 ** Math.min(entry.failures - 1, 6));
        throw error;
      } finally {
        entry.building = null;
      }
    })();
    return entry.building;
  }

  // Maintenance starts and ends, overrides expire and days turn by the clock alone.
  function schedule(clientId: string, entry: CacheEntry, delayMs: number): void {
    if (entry.timer) clearTimeout(entry.timer);
    if (stopped) return;
    const delay = Math.min(delayMs, MAX_AGE_MS);
    entry.timer = setTimeout(() => void refresh(clientId, entry).catch((error) => logger.warn({ err: error, clientId }, 'status page refresh failed')), delay);
    entry.timer.unref();
  }

  function invalidate(clientId: string): void {
    const entry = entries.get(clientId);
    if (entry) void refresh(clientId, entry).catch((error) => logger.warn({ err: error, clientId }, 'status page refresh failed'));
  }

  deps.bus.on('incident.changed', (event) => {
    if (event.clientId) invalidate(event.clientId);
  });
  // Planned maintenance changed: rebuild, and build a page nobody opened yet (its subscribers
  // hear of the maintenance all the same).
  deps.maintenance.onChanged((clientId) => {
    if (entries.has(clientId)) invalidate(clientId);
    else void service.get(clientId).catch((error) => logger.warn({ err: error, clientId }, 'status page build failed'));
  });
  // A reload can change anything on a page (names, services, public or not): rebuild them all now.
  configStore.onReplace(() => {
    for (const clientId of entries.keys()) invalidate(clientId);
  });

  const service = {
    clientConfig,

    /**
     * The client's current snapshot. Built on first use; afterwards always answered from
     * memory (a stale one while a rebuild runs, so a database outage does not take the
     * page down with it).
     */
    async get(clientId: string): Promise<StatusSnapshot> {
      clientConfig(clientId);
      let entry = entries.get(clientId);
      if (!entry) {
        entry = { snapshot: null, building: null, dirty: false, timer: null, failures: 0, history: new Map() };
        entries.set(clientId, entry);
      }
      if (entry.snapshot) {
        if (entry.snapshot.config !== configStore.current) invalidate(clientId);
        return entry.snapshot;
      }
      try {
        return await refresh(clientId, entry);
      } catch (error) {
        if (error instanceof NotFoundError) throw error;
        logger.warn({ err: error, clientId }, 'could not build the status page');
        throw new UnavailableError('the status page is temporarily unavailable');
      }
    },

    /** The snapshot of a public page if one is cached and current; never waits or builds (the fast path). */
    cachedPublic(clientId: string): StatusSnapshot | null {
      const snapshot = entries.get(clientId)?.snapshot;
      return snapshot && snapshot.config === configStore.current && snapshot.model.client.public ? snapshot : null;
    },

    /** Rebuilds a client's page now (after an override, or when a test moves the clock). */
    async refresh(clientId: string): Promise<StatusSnapshot | null> {
      const entry = entries.get(clientId);
      return entry ? refresh(clientId, entry) : null;
    },

    invalidate,

    /** Called with every snapshot that differs from the one before (and the one before, if any). */
    onUpdate(listener: (snapshot: StatusSnapshot, previous: StatusSnapshot | null) => void): void {
      listeners.push(listener);
    },

    stop(): void {
      stopped = true;
      for (const entry of entries.values()) if (entry.timer) clearTimeout(entry.timer);
    },
  };
  return service;
}
