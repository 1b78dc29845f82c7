// Scale-out: several Node-RED instances that trade under the same IBKR username share one set of limits, because
// IBKR counts requests per username (10 req/s through the Gateway, the per-endpoint table; fact sheet, section 5).
// Every key lives under an id derived from the username: every instance of one username waits for the others, two
// usernames never do. What is shared, and how:
// - Every window rule (the global window, the per-endpoint rates and 1-per-interval families) and the 429 pause:
//   RedisDepartures below, one Lua script that checks every rule of a request and records its departure in the same
//   atomic step (a sorted set per window whose scores are the ends of each request's count, the paced slot beside
//   it, the pause as a key that expires by itself, so an instance that dies mid-pause cannot freeze the others), and
//   a second one that ends a request's count when its answer comes back, at Redis's time of that report: never
//   before the answer, so never before IBKR counted the request, whichever instance sent it and however late. Bottleneck cannot express these: its
//   minTime and reservoir are decided when a job is registered, not when the request leaves, and its reservoir
//   refreshes in fixed intervals where IBKR slides.
// - The concurrency limits (history: at most 4 at once): Bottleneck's own clustering (its `running` count in Redis),
//   with a job expiration so that a slot held by an instance that dies is freed.
// Times come from Redis (TIME), one clock for every instance, unless a clock is injected (tests in virtual time).

import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import { InvalidInputError } from '../errors';
import { IbkrError } from './errors';
import { PACE_TOLERANCE_MS, verdictOf, type Blocker, type DepartureRule, type DepartureStore, type Ticket, type Verdict } from './departures';
import { ARRIVAL_BOUND_MS } from './limits';

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

/** One ioredis client per limiter; a command fails after a few retries instead of waiting for ever. */
export function openClusterClient(redis: ClusterRedis): Redis {
  return new Redis({
    host: redis.host,
    port: redis.port,
    password: redis.password,
    maxRetriesPerRequest: 3,
    connectionName: 'mia-ibkr-limiter',
  });
}

/** Bottleneck's clustering on the limiter's own ioredis client (it duplicates it for its subscriptions). */
export function bottleneckConnection(client: Redis): Bottleneck.IORedisConnection {
  return new Bottleneck.IORedisConnection({ client });
}

/** Every script's first lines: `now` is ARGV[1] (a test's virtual clock) or, when empty, Redis's own TIME in ms. */
const NOW_LUA = `
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
`;

/**
 * KEYS: the pause key, then for each rule its departures (sorted set: member = the request, score = the end of its
 * count) and its next paced slot.
 * ARGV: now ('' = Redis TIME), a unique member, the pace tolerance, the arrival bound, then per rule max, span,
 * pace, shared (1/0).
 * Returns {1} when the request may leave (recorded, counted until now + the arrival bound), else
 * {0, wait ms, 'pause'|'shared'|'family', 1 if the wait depends on a request still on the wire else 0}.
 * Mirrors LocalDepartures (./departures.ts); the tests run both against the same cases.
 */
export const DEPART_LUA = NOW_LUA + `
local pausedUntil = tonumber(redis.call('GET', KEYS[1]) or '-1e300')
if pausedUntil > now then return {0, tostring(pausedUntil - now), 'pause'} end
local tolerance = tonumber(ARGV[3])
local bound = tonumber(ARGV[4])
local rules = (#KEYS - 1) / 2
local worst, blocker, inflight = 0, '', 0
for i = 1, rules do
  local log, slot = KEYS[2 * i], KEYS[2 * i + 1]
  local a = 4 + (i - 1) * 4
  local max, span = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - span)
  local count = redis.call('ZCARD', log)
  local wait, waiting = 0, 0
  if count >= max then
    local held = tonumber(redis.call('ZRANGE', log, count - max, count - max, 'WITHSCORES')[2])
    wait = held + span - now
    if held > now then waiting = 1 end
  end
  local nextSlot = tonumber(redis.call('GET', slot) or '-1e300')
  if nextSlot - tolerance - now >= wait then
    wait = nextSlot - tolerance - now
    waiting = 0
  end
  if wait > worst then
    worst = wait
    inflight = waiting
    if ARGV[a + 4] == '1' then blocker = 'shared' else blocker = 'family' end
  end
end
if worst > 0 then return {0, tostring(worst), blocker, inflight} end
for i = 1, rules do
  local log, slot = KEYS[2 * i], KEYS[2 * i + 1]
  local a = 4 + (i - 1) * 4
  local span, pace = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  redis.call('ZADD', log, now + bound, ARGV[2])
  redis.call('PEXPIRE', log, math.ceil(span + bound))
  local nextSlot = math.max(tonumber(redis.call('GET', slot) or '-1e300'), now) + pace
  redis.call('SET', slot, tostring(nextSlot), 'PX', math.ceil(span + pace))
end
return {1}
`;

/**
 * KEYS: the departures (sorted sets) of one request's rules. ARGV: now ('' = Redis TIME), the request's member.
 * Its count ends now, unless it already ended earlier (the arrival bound passed).
 */
export const ANSWERED_LUA = NOW_LUA + `
for i = 1, #KEYS do
  local ends = redis.call('ZSCORE', KEYS[i], ARGV[2])
  if ends and tonumber(ends) > now then redis.call('ZADD', KEYS[i], 'XX', now, ARGV[2]) end
end
return 1
`;

/**
 * KEYS: the departures (sorted sets) of one request's rules. ARGV: now ('' = Redis TIME), the request's member, the
 * arrival bound, then each rule's span. The request leaves only now: it counts until now + the bound at least (if it is still recorded).
 */
export const RENEW_LUA = NOW_LUA + `
local ends = now + tonumber(ARGV[3])
for i = 1, #KEYS do
  local held = redis.call('ZSCORE', KEYS[i], ARGV[2])
  if held and tonumber(held) < ends then
    redis.call('ZADD', KEYS[i], 'XX', ends, ARGV[2])
    local keep = math.ceil(tonumber(ARGV[3]) + tonumber(ARGV[3 + i]))
    if redis.call('PTTL', KEYS[i]) < keep then redis.call('PEXPIRE', KEYS[i], keep) end
  end
end
return 1
`;

/** KEYS: the pause key. ARGV: now ('' = Redis TIME), ms. The pause ends at now + ms unless one ends later. */
export const PAUSE_LUA = NOW_LUA + `
local pausedUntil = math.max(tonumber(redis.call('GET', KEYS[1]) or '-1e300'), now + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], tostring(pausedUntil), 'PX', math.ceil(pausedUntil - now) + 1000)
return 1
`;

const sha1 = (script: string): string => createHash('sha1').update(script).digest('hex');

interface RedisTicket {
  logs: string[];
  member: string;
  spans: number[];
}

/** The departure ledger of every instance of one username, in Redis (see DEPART_LUA, ANSWERED_LUA). */
export class RedisDepartures implements DepartureStore {
  private seq = 0;
  private readonly self = Math.random().toString(36).slice(2);

  constructor(
    private readonly client: Redis,
    private readonly id: string,
    /** Injected for tests in virtual time; by default Redis's own clock, shared by every instance. */
    private readonly now?: () => number,
  ) {}

  private get pauseKey(): string {
    return `${this.id}:pause`;
  }

  async tryDepart(rules: readonly DepartureRule[]): Promise<Verdict> {
    const logs = rules.map((r) => `${this.id}:w:${r.key}`);
    const keys = [this.pauseKey, ...rules.flatMap((r, i) => [logs[i] as string, `${this.id}:slot:${r.key}`])];
    const member = `${this.self}:${(this.seq += 1)}`;
    const args = [this.clock(), member, String(PACE_TOLERANCE_MS), String(ARRIVAL_BOUND_MS)];
    for (const r of rules) args.push(String(r.max), String(r.spanMs), String(r.paceMs), r.shared ? '1' : '0');
    const reply = (await this.evaluate(DEPART_LUA, keys, args)) as [number, string?, string?, number?];
    if (reply[0] === 1) return { ok: true, ticket: { logs, member, spans: rules.map((r) => r.spanMs) } satisfies RedisTicket };
    return verdictOf(Number(reply[1]), reply[2] as Blocker, reply[3] === 1);
  }

  async answered(ticket: Ticket): Promise<void> {
    const { logs, member } = ticket as RedisTicket;
    await this.evaluate(ANSWERED_LUA, logs, [this.clock(), member]);
  }

  async renew(ticket: Ticket): Promise<void> {
    const { logs, member, spans } = ticket as RedisTicket;
    await this.evaluate(RENEW_LUA, logs, [this.clock(), member, String(ARRIVAL_BOUND_MS), ...spans.map(String)]);
  }

  /** The injected clock's reading, or '' for Redis's own TIME (read inside the script, so it is Redis's moment). */
  private clock(): string {
    return this.now ? String(this.now()) : '';
  }

  /** EVALSHA, loading the script on its first use (or after a Redis restart). */
  private async evaluate(script: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.client.evalsha(sha1(script), keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.client.eval(script, keys.length, ...keys, ...args);
    }
  }

  /** Sets the shared pause (a longer one in force is kept); the key expires a second after the pause ends. */
  async pause(ms: number): Promise<void> {
    await this.evaluate(PAUSE_LUA, [this.pauseKey], [this.clock(), String(ms)]);
  }
}
