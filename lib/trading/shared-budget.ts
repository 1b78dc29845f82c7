// The risk budget of one trading account shared by several Node-RED instances (the IBKR connection's "share limits
// over Redis"). It is not a second risk engine: each instance's RiskEngine keeps every rule and its own book, and this
// backend holds what must be ONE for the account, checked and changed in one atomic Redis step (a Lua script, as
// lib/ibkr/cluster.ts does for the rate limiter):
//
// - the orders every instance counts (reserved, sent or working), each mirrored by the instance that owns it;
// - the account's positions per contract (root, quantity, average price), moved by fills (each fill once, by key)
//   and replaced by the broker's figures;
// - trades today and realized P&L of the session (rolled at the session start the engines give);
// - the kill switch, published to every instance as it changes.
//
// claim(): the only way an order's exposure enters the shared budget. Exposure per instrument root, worst case both
// ways, as the engine counts it (lib/trading/risk-engine.ts exposure()): long = position + open entry buys + armed
// exit buys (once per OCO pair), short likewise. A claim that makes a side larger is refused when that side would
// exceed max position, when the day's realized P&L is at or below the loss limit, when it opens a trade with the
// day's trades used up, or when the kill switch is not ACTIVE; HALTED refuses every claim.

import Redis from 'ioredis';
import type { Side } from '../contracts';
import { MiaError, errorMessage } from '../errors';
import { journalFileName } from './journal';
import type { KillSwitchState, RiskRule } from './risk-rules';

/** One order as the shared budget counts it. */
export interface SharedOrder {
  id: string;
  root: string;
  side: Side;
  /** Quantity and filled. */
  q: number;
  f: number;
  role: 'entry' | 'exit';
  /** OCO pair (the parent's id for exits; the order's own id for entries). */
  pair: string;
  /** For exits: how much may fill (its parent's filled). */
  armed: number;
}

export interface SharedLimits {
  maxPosition: number;
  maxTradesPerDay: number;
  dailyLossLimit: number;
  /** The session start (ms) the claiming engine is in: a newer one resets trades and P&L. */
  session: number;
  /** Ids of new orders (not a modify of one already claimed): refused when any instance already claimed the id. */
  fresh?: string[];
}

export type SharedVerdict = { allowed: true; killSwitch: KillSwitchState } | { allowed: false; rule: RiskRule; reason: string; killSwitch: KillSwitchState };

export interface SharedFill {
  /** Counted once per key (the broker's execution id, or the order id and its cumulative filled quantity). */
  key: string;
  instrument: string;
  root: string;
  side: Side;
  quantity: number;
  price: number;
  pointValue: number;
  session: number;
  /** Signed part of the fill the broker's position record (setPosition) already contained: not moved again. */
  absorbed?: number;
  /** The broker's realized P&L of this fill when it gives one (used instead of the price arithmetic, as the engine does). */
  realizedPnl?: number;
}

/** The backend the engine talks to; RedisSharedBudget is the one implementation (tests may give another). */
export interface SharedBudget {
  readonly where: string;
  claim(orders: SharedOrder[], limits: SharedLimits): Promise<SharedVerdict>;
  /** Orders the owner already claimed, as they are now (acks, fills, shrinking); `remove` those that ended. */
  mirror(put: SharedOrder[], remove: string[]): Promise<void>;
  /** A fill (each key once) and, in the same atomic step, the owner's orders it changed. */
  fill(fill: SharedFill, put: SharedOrder[], remove: string[]): Promise<void>;
  setPosition(p: { instrument: string; root: string; quantity: number; averagePrice: number | null }): Promise<void>;
  setRealizedPnl(pnl: number, session: number): Promise<void>;
  setKillSwitch(state: KillSwitchState): Promise<void>;
  killSwitch(): Promise<KillSwitchState>;
  /** Calls back with every kill switch change any instance makes; returns the unsubscribe. */
  onKillSwitch(listener: (state: KillSwitchState) => void): () => void;
  close(): Promise<void>;
}

const PROLOGUE = `
local state, claims, books = KEYS[1], KEYS[2], KEYS[3]
local function roll(session)
  local s = tonumber(redis.call('HGET', state, 'session') or '-1e300')
  if session > s then redis.call('HSET', state, 'session', tostring(session), 'trades', '0', 'pnl', '0') end
end
`;

/** KEYS: state, claims, books. ARGV[1]: {orders, maxPosition, maxTradesPerDay, dailyLossLimit, session}. */
export const CLAIM_LUA = `${PROLOGUE}
local a = cjson.decode(ARGV[1])
roll(a.session)
local ks = redis.call('HGET', state, 'ks') or 'ACTIVE'
if ks == 'HALTED' then return {0, 'kill-switch', 'kill switch is HALTED (set by an instance sharing this account): no new orders. Set it to ACTIVE to trade again', ks} end
local trades = tonumber(redis.call('HGET', state, 'trades') or '0')
local pnl = tonumber(redis.call('HGET', state, 'pnl') or '0')
for _, id in ipairs(a.fresh or {}) do
  if redis.call('HEXISTS', claims, id) == 1 then return {0, 'invalid-order', 'client order id "' .. id .. '" is already used by another instance on this account: an id is never reused', ks} end
end
local new = {}
local roots = {}
for _, o in ipairs(a.orders) do new[o.id] = o; roots[o.root] = true end
local bookList = redis.call('HGETALL', books)
local claimList = redis.call('HGETALL', claims)
local old = {}
for i = 1, #claimList, 2 do old[claimList[i]] = cjson.decode(claimList[i + 1]) end
local function exposure(root, withNew)
  local pos = 0
  for i = 1, #bookList, 2 do
    local b = cjson.decode(bookList[i + 1])
    if b.root == root then pos = pos + b.pos end
  end
  local buys, sells, seen = 0, 0, {}
  local function add(o)
    if o.root ~= root then return end
    local open
    if o.role == 'entry' then open = math.max(0, o.q - o.f)
    else
      if seen[o.pair] then return end
      seen[o.pair] = true
      open = math.max(0, o.armed - o.f)
    end
    if o.side == 'buy' then buys = buys + open else sells = sells + open end
  end
  for id, o in pairs(old) do
    if not (withNew and new[id]) then add(o) end
  end
  if withNew then for _, o in ipairs(a.orders) do add(o) end end
  return pos, buys, sells
end
for root in pairs(roots) do
  local pos, b0, s0 = exposure(root, false)
  local _, b1, s1 = exposure(root, true)
  local long0, long1, short0, short1 = pos + b0, pos + b1, -pos + s0, -pos + s1
  local what = root .. ' across the instances sharing this account: position ' .. pos .. ', working buys ' .. b1 .. ', working sells ' .. s1
  -- It adds to the account's exposure when it makes a side larger that is then above zero (a sell that only takes a
  -- long position toward flat is not an entry).
  if (long1 > long0 and long1 > 0) or (short1 > short0 and short1 > 0) then
    if ks ~= 'ACTIVE' then return {0, 'kill-switch', 'kill switch is ' .. ks .. ' (set by an instance sharing this account): only orders that shrink the position are allowed', ks} end
    if pnl <= -a.dailyLossLimit then return {0, 'daily-loss', 'daily loss limit reached across the instances sharing this account: realized P&L ' .. pnl .. ' is at or below -' .. a.dailyLossLimit .. '; new positions resume after the session reset', ks} end
    for _, o in ipairs(a.orders) do
      if o.role == 'entry' and o.root == root then
        local q = o.q - ((old[o.id] and old[o.id].q) or 0)
        if q > 0 then
          local exp, after
          if o.side == 'buy' then exp = pos + b0; after = exp + q else exp = pos - s0; after = exp - q end
          if (exp == 0 or after * exp < 0) and trades >= a.maxTradesPerDay then
            return {0, 'max-trades', trades .. ' trades today across the instances sharing this account, the maximum is ' .. a.maxTradesPerDay .. ': no new trade until the session reset', ks}
          end
        end
      end
    end
    if (long1 > long0 and long1 > a.maxPosition) or (short1 > short0 and short1 > a.maxPosition) then
      return {0, 'max-position', what .. ': the order would take the worst case to long ' .. long1 .. ' / short ' .. short1 .. '; the maximum is ' .. a.maxPosition .. ' contracts', ks}
    end
  end
end
for _, o in ipairs(a.orders) do redis.call('HSET', claims, o.id, cjson.encode(o)) end
return {1, ks}
`;

/** KEYS: state, claims, books. ARGV[1]: {put: [...], remove: [...]}. No check: the owner only reports what happened. */
export const MIRROR_LUA = `
local a = cjson.decode(ARGV[1])
for _, o in ipairs(a.put) do redis.call('HSET', KEYS[2], o.id, cjson.encode(o)) end
for _, id in ipairs(a.remove) do redis.call('HDEL', KEYS[2], id) end
return 1
`;

/**
 * KEYS: state, claims, books, executions. ARGV[1]: SharedFill, ARGV[2]: {put, remove} (the owner's orders after it).
 * Each key once: position, average, trades, P&L.
 */
export const FILL_LUA = `${PROLOGUE}
local a = cjson.decode(ARGV[1])
local m = cjson.decode(ARGV[2])
for _, o in ipairs(m.put) do redis.call('HSET', claims, o.id, cjson.encode(o)) end
for _, id in ipairs(m.remove) do redis.call('HDEL', claims, id) end
if redis.call('SADD', KEYS[4], a.key) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[4], 259200000)
roll(a.session)
local raw = redis.call('HGET', books, a.instrument)
local b = raw and cjson.decode(raw) or {root = a.root, pos = 0, avg = 0}
local q = a.quantity
local signed = q
if a.side == 'sell' then signed = -q end
local absorbed = a.absorbed or 0
-- replayed from the position before the record that contained it; ends on the record moved by the rest of the fill
local pos = b.pos - absorbed
if pos == 0 or (pos > 0) == (signed > 0) then
  if pos == 0 then redis.call('HINCRBY', state, 'trades', 1) end
  b.avg = (b.avg * math.abs(pos) + a.price * q) / (math.abs(pos) + q)
  b.pos = pos + signed
  if a.realizedPnl then redis.call('HINCRBYFLOAT', state, 'pnl', tostring(a.realizedPnl)) end
else
  local closing = math.min(q, math.abs(pos))
  local sign = 1
  if pos < 0 then sign = -1 end
  redis.call('HINCRBYFLOAT', state, 'pnl', tostring(a.realizedPnl or ((a.price - b.avg) * closing * sign * a.pointValue)))
  b.pos = pos + signed
  if b.pos ~= 0 and (b.pos > 0) ~= (pos > 0) then
    redis.call('HINCRBY', state, 'trades', 1)
    b.avg = a.price
  elseif b.pos == 0 then b.avg = 0 end
end
if b.pos == 0 then redis.call('HDEL', books, a.instrument) else redis.call('HSET', books, a.instrument, cjson.encode(b)) end
return 1
`;

/** KEYS: state, claims, books. ARGV[1]: {instrument, root, pos, avg}: the broker's position wins. */
export const POSITION_LUA = `
local a = cjson.decode(ARGV[1])
if a.pos == 0 then redis.call('HDEL', KEYS[3], a.instrument) else redis.call('HSET', KEYS[3], a.instrument, cjson.encode({root = a.root, pos = a.pos, avg = a.avg})) end
return 1
`;

/** KEYS: state. ARGV: pnl, session. The broker's realized P&L wins. */
export const PNL_LUA = `
local s = tonumber(redis.call('HGET', KEYS[1], 'session') or '-1e300')
local session = tonumber(ARGV[2])
if session > s then redis.call('HSET', KEYS[1], 'session', ARGV[2], 'trades', '0') end
if session >= s then redis.call('HSET', KEYS[1], 'pnl', ARGV[1]) end
return 1
`;

/** KEYS: state. ARGV: state, channel. */
export const KILL_LUA = `
redis.call('HSET', KEYS[1], 'ks', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
`;

/** Redis did not answer or refused a command: the order it was for was not sent (or its news not shared). */
export class SharedBudgetError extends MiaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RISK_SHARED_BUDGET', message, options);
  }
}

const KILL_STATES: readonly string[] = ['ACTIVE', 'REDUCING', 'HALTED'];
const asKill = (v: unknown): KillSwitchState => (typeof v === 'string' && KILL_STATES.includes(v) ? (v as KillSwitchState) : 'HALTED');

export interface RedisSharedBudgetOptions {
  redis: { host: string; port: number; password?: string };
  broker: string;
  account: string;
  /** Key prefix; keys are `<prefix>:<broker>-<account>:<part>`. */
  prefix?: string;
}

export class RedisSharedBudget implements SharedBudget {
  readonly where: string;
  private readonly client: Redis;
  private subscriber: Redis | undefined;
  private readonly base: string;
  private readonly channel: string;
  private readonly listeners = new Set<(state: KillSwitchState) => void>();

  constructor(options: RedisSharedBudgetOptions) {
    this.base = `${options.prefix ?? 'mia-risk'}:${journalFileName(options.broker, options.account).replace(/\.json$/, '')}`;
    this.channel = `${this.base}:kill-switch`;
    this.where = `Redis ${options.redis.host}:${options.redis.port} key ${this.base}`;
    this.client = new Redis({ host: options.redis.host, port: options.redis.port, password: options.redis.password, maxRetriesPerRequest: 2, connectionName: 'mia-risk-budget' });
    this.client.on('error', () => undefined); // each failed command is reported by its own promise
    this.client.defineCommand('miaClaim', { numberOfKeys: 3, lua: CLAIM_LUA });
    this.client.defineCommand('miaMirror', { numberOfKeys: 3, lua: MIRROR_LUA });
    this.client.defineCommand('miaFill', { numberOfKeys: 4, lua: FILL_LUA });
    this.client.defineCommand('miaPosition', { numberOfKeys: 3, lua: POSITION_LUA });
    this.client.defineCommand('miaPnl', { numberOfKeys: 1, lua: PNL_LUA });
    this.client.defineCommand('miaKill', { numberOfKeys: 1, lua: KILL_LUA });
  }

  private keys(): string[] {
    return [`${this.base}:state`, `${this.base}:claims`, `${this.base}:books`];
  }

  private async run(command: string, keys: string[], ...args: string[]): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[command];
    try {
      return await fn.call(this.client, ...keys, ...args);
    } catch (err) {
      throw new SharedBudgetError(`the shared risk budget (${this.where}) did not answer: ${errorMessage(err)}`, { cause: err });
    }
  }

  async claim(orders: SharedOrder[], limits: SharedLimits): Promise<SharedVerdict> {
    const r = (await this.run('miaClaim', this.keys(), JSON.stringify({ ...limits, orders }))) as [number, string, string?, string?];
    if (r[0] === 1) return { allowed: true, killSwitch: asKill(r[1]) };
    return { allowed: false, rule: r[1] as RiskRule, reason: String(r[2]), killSwitch: asKill(r[3]) };
  }

  async mirror(put: SharedOrder[], remove: string[]): Promise<void> {
    await this.run('miaMirror', this.keys(), JSON.stringify({ put, remove }));
  }

  async fill(fill: SharedFill, put: SharedOrder[], remove: string[]): Promise<void> {
    await this.run('miaFill', [...this.keys(), `${this.base}:executions`], JSON.stringify(fill), JSON.stringify({ put, remove }));
  }

  async setPosition(p: { instrument: string; root: string; quantity: number; averagePrice: number | null }): Promise<void> {
    await this.run('miaPosition', this.keys(), JSON.stringify({ instrument: p.instrument, root: p.root, pos: p.quantity, avg: p.averagePrice ?? 0 }));
  }

  async setRealizedPnl(pnl: number, session: number): Promise<void> {
    await this.run('miaPnl', [`${this.base}:state`], String(pnl), String(session));
  }

  async setKillSwitch(state: KillSwitchState): Promise<void> {
    await this.run('miaKill', [`${this.base}:state`], state, this.channel);
  }

  async killSwitch(): Promise<KillSwitchState> {
    try {
      const v = await this.client.hget(`${this.base}:state`, 'ks');
      return v === null ? 'ACTIVE' : asKill(v);
    } catch (err) {
      throw new SharedBudgetError(`the shared risk budget (${this.where}) did not answer: ${errorMessage(err)}`, { cause: err });
    }
  }

  onKillSwitch(listener: (state: KillSwitchState) => void): () => void {
    this.listeners.add(listener);
    if (!this.subscriber) {
      const sub = this.client.duplicate({ connectionName: 'mia-risk-budget-sub' });
      sub.on('error', () => undefined);
      sub.on('message', (channel: string, message: string) => {
        if (channel !== this.channel) return;
        for (const l of this.listeners) l(asKill(message));
      });
      sub.subscribe(this.channel).catch(() => undefined); // ioredis resubscribes on reconnect; claims still see the switch
      this.subscriber = sub;
    }
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the kill-switch subscription is in place (tests). */
  async ready(): Promise<void> {
    if (this.subscriber && this.subscriber.status !== 'ready') await new Promise<void>((resolve) => this.subscriber?.once('ready', () => resolve()));
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.subscriber?.disconnect();
    this.client.disconnect();
  }
}
