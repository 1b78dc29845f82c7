// Scale-out: several Node-RED instances that trade under the same IBKR username share one set of limits, because
// IBKR counts requests per username (10 req/s through the Gateway, the per-endpoint table; fact sheet, section 5).
// The limiter tree keeps its Bottleneck limiters but stores their state in Redis (Bottleneck's own clustering), under
// an id derived from the username: every instance of one username waits for the others, two usernames never do.
//
// What Bottleneck shares over Redis, and what it does not (checked against bottleneck 2.19 lua scripts):
// - minTime (the global limiter): `nextRequest` lives in Redis, so spacing is measured across every instance.
// - maxConcurrent (every family limiter): `running` lives in Redis; a freed slot is offered to the instance with
//   the fewest running jobs that has one waiting ("capacity-priority" message).
// - Queues stay local: each instance keeps its own waiting requests; only the right to start one is shared.
// - A slot held by an instance that dies is never freed unless the job has an `expiration`; jobs carry one
//   (CLUSTER_JOB_GRACE_MS past the family's interval), so a crash blocks a family for minutes, not for ever.
// - The reservoir would be shared too, which is why a 429 pause is not kept there (a crash mid-pause would freeze
//   every instance for good): the paused instance broadcasts the pause and each instance holds itself.
// - Settings are written by the first instance that creates the keys; later ones overwrite them on start, so the
//   last started instance's preset wins. Keys expire CLUSTER_KEY_TTL_MS after the last activity.

import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { InvalidInputError } from '../errors';
import { IbkrError } from './errors';

export interface ClusterRedis {
  host: string;
  port: number;
  password?: string;
}

/** Shares this connection's IBKR limits with every other instance that uses the same Redis and the same id. */
export interface ClusterSettings {
  redis: ClusterRedis;
  /** Shared by every instance of one IBKR username. Default: derived from `username`. */
  id?: string;
  /** The IBKR username (or, for a single-account username, its account id) whose limits are shared. */
  username?: string;
}

/** Longer than the longest family interval (15 min) plus its grace: a held slot never outlives its keys. */
export const CLUSTER_KEY_TTL_MS = 60 * 60_000;

/** How long past its interval a family slot may stay held before Redis frees it: a request may wait out IBKR's
 * 15-minute penalty box ([CP]) while holding it. */
export const CLUSTER_JOB_GRACE_MS = 16 * 60_000;

/** The shared id of one IBKR username: hashed, so no username or account id is written to Redis. */
export function clusterId(username: string): string {
  const normalized = username.trim().toLowerCase();
  if (!normalized) throw new InvalidInputError('IBKR cluster: the IBKR username is empty. Give the username (or account id) whose limits the instances share.');
  return `ibkr-${createHash('sha256').update(normalized).digest('hex').slice(0, 16)}`;
}

/** The id every limiter of this connection's tree is named under. */
export function resolveClusterId(settings: ClusterSettings): string {
  if (settings.id?.trim()) return settings.id.trim();
  if (settings.username !== undefined) return clusterId(settings.username);
  throw new InvalidInputError(
    'IBKR cluster: no cluster id and no IBKR username. Give the username (or account id) so that instances of the same username share its limits.',
  );
}

/** Redis could not be reached or refused a limiter command: the request was not sent to IBKR. */
export class ClusterUnavailableError extends IbkrError {
  constructor(redis: ClusterRedis, path: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      'IBKR_CLUSTER_UNAVAILABLE',
      `IBKR request ${path} not sent: the shared rate limiter's Redis at ${redis.host}:${redis.port} did not answer (${why}). ` +
        'Start Redis or check its address and password, or turn clustering off in the ibkr-config node.',
      { path, cause },
    );
  }
}

/**
 * One pair of Redis sockets (commands + subscriptions) for a whole limiter tree; without it each of the ~16
 * limiters would open its own pair. The tree closes it in stop().
 */
export function openClusterConnection(redis: ClusterRedis): Bottleneck.IORedisConnection {
  return new Bottleneck.IORedisConnection({
    clientOptions: {
      host: redis.host,
      port: redis.port,
      password: redis.password,
      // A command fails after a few retries instead of waiting for ever: a request never hangs silently.
      maxRetriesPerRequest: 3,
      connectionName: 'mia-ibkr-limiter',
    },
  });
}

/** Broadcast on the global limiter's channel so every instance of the username holds itself after a 429. */
export interface PauseMessage {
  from: string;
  ms: number;
  reason: string;
}

const PAUSE_PREFIX = 'pause:';

export function encodePause(message: PauseMessage): string {
  return PAUSE_PREFIX + JSON.stringify(message);
}

export function decodePause(text: string): PauseMessage | undefined {
  if (!text.startsWith(PAUSE_PREFIX)) return undefined;
  try {
    const value: unknown = JSON.parse(text.slice(PAUSE_PREFIX.length));
    if (typeof value !== 'object' || value === null) return undefined;
    const { from, ms, reason } = value as Record<string, unknown>;
    if (typeof from !== 'string' || typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || typeof reason !== 'string') return undefined;
    return { from, ms, reason };
  } catch {
    return undefined;
  }
}
