// The risk engine's memory: what must survive a redeploy, a Node-RED restart and `kill -9` — the day's realized
// P&L, trades, losing streak, cooldown clock, kill switch, client order ids used and the orders reserved or working.
// The engine saves a whole snapshot (small: one account's day) before each order leaves, synchronously, so no order
// can reach the broker that the journal does not know.
//
// - FileJournal: one file per account (`<dir>/<broker>-<account>.json`), a write-ahead log: one line per save (the
//   whole snapshot as JSON), appended and fdatasync'ed before save() returns; the last complete line is the state.
//   One small append and one data flush per save, where a rewrite of the file (temporary file, fsync, rename, fsync of
//   the directory) costs about twice as long and more on a busy disk — and there are two saves on each order's way
//   out. News from the broker (acknowledgements, fills, positions: a dozen saves per bracket order) and the
//   reservation of an order are appended the same way by saveSoon() but flushed to the disk in the background
//   (fdatasync on libuv's pool, from the next event-loop turn) instead of blocking the event loop: a killed process
//   loses nothing (the kernel holds what was written), and the save() at authorizeSend, before the order's bytes
//   leave, flushes everything before it. So one data flush on the event loop per order. The file is rewritten atomically that way (the newest snapshot alone) on the first save of a process, when
//   the log passes its size bound, and after any failed write, so it stays small and never carries a broken line in
//   its middle. A crash during an append leaves a partial last line (that save never returned, so its order never
//   left): it is ignored. A file with no newline at all is a single snapshot (written by a version before the log, or
//   by a rewrite): read as it is.
// - RedisJournal: the same snapshot under one Redis key, so instances that share their IBKR limits over Redis also
//   find one account's state there. The Redis write is asynchronous, so it keeps a FileJournal beside it for the
//   synchronous write-before-send; at start the newer of the two snapshots wins.
// - MemoryJournal: for tests and for a runtime without a user directory (state lasts as long as the process).

import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { InvalidInputError, MiaError, errorMessage } from '../errors';
import type { Side } from '../contracts';
import type { RiskLedger } from './risk-rules';

export const JOURNAL_VERSION = 1;

/** One order the engine counts: reserved (not yet sent), sent (not yet acknowledged) or working at the broker. */
export interface IntentRecord {
  clientOrderId: string;
  instrument: string;
  root: string;
  side: Side;
  quantity: number;
  filled: number;
  /** 'entry' adds to exposure on its side; 'exit' is a bracket child (a protective exit, never counted as an entry). */
  role: 'entry' | 'exit';
  /** Judged at reservation: it can only bring the position toward flat. */
  reducing: boolean;
  phase: 'reserved' | 'sent' | 'working';
  parent?: string;
  /** For an exit: how much of its parent has filled (an exit can fill only that much: the rest is not armed yet). */
  armed?: number;
  brokerOrderId?: string;
  /** An entry judged, when reserved, to open a trade (the position flat, or crossed): counted against max trades per day until it fills or ends. */
  opens?: boolean;
  /** An entry sent for a Battle Navale signal: when (market time) and which, so its expiry outlives a Deploy or a restart. */
  signal?: { sentAt: number; origin: string };
}

export interface JournalState {
  version: number;
  broker: string;
  account: string;
  savedAt: number;
  ledger: RiskLedger;
  /** The highest client-order-id sequence issued for this account (generators continue above it). */
  idSequence: number;
  /** Client order ids used (→ when), kept three days: never issued again. */
  usedIds: Record<string, number>;
  /**
   * The broker's order ids this account has seen (→ when), kept like usedIds: a fill at the reconcile whose order is
   * not among them happened where no journal saw it (while Node-RED was down, or before its news was read). Absent
   * in a journal written before it was kept: then such fills cannot be told from the day's earlier ones.
   */
  brokerOrderIds?: Record<string, number>;
  intents: IntentRecord[];
}

export interface Journal {
  /** Where the state lives, for messages ("file /…/ibkr-U123.json", "redis key …"). */
  readonly where: string;
  /** The last saved state, or null when there is none. Throws JournalError when it exists but cannot be read. */
  load(): Promise<JournalState | null>;
  /** Saves synchronously to the local medium (throws JournalError when it cannot: the order must not leave). */
  save(state: JournalState): void;
  /**
   * Like save(), safe from a crash of the process (kill -9) when it returns, but the flush to the disk (what only a
   * crash of the machine could undo) may follow a moment later; the next save() includes it. For news from the broker
   * and for a reservation (authorizeSend's save() flushes it before the order leaves); never for the state an order
   * leaves on. Absent: save() is used.
   */
  saveSoon?(state: JournalState): void;
  /** Resolves once every save reached every medium (Redis). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export class JournalError extends MiaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RISK_JOURNAL', message, options);
  }
}

const SAFE_NAME = /[^A-Za-z0-9_.-]/g;

/** `<broker>-<account>.json` with anything but letters, digits, _ . - replaced: an account id never escapes the dir. */
export function journalFileName(broker: string, account: string): string {
  return `${broker}-${account}`.replace(SAFE_NAME, '_') + '.json';
}

function checkState(value: unknown, where: string): JournalState {
  const s = value as Partial<JournalState> | null;
  if (!s || typeof s !== 'object' || s.version !== JOURNAL_VERSION || typeof s.ledger !== 'object' || !Array.isArray(s.intents)) {
    throw new JournalError(`The risk journal ${where} is not a version ${JOURNAL_VERSION} journal: trading stays HALTED until it is fixed or removed (delete it only after checking the broker's positions and orders).`);
  }
  return s as JournalState;
}

/** The parts of a state that DatedIds keeps as JSON text: the used and the seen order ids. */
export type IdsPart = 'usedIds' | 'brokerOrderIds';

/** The JSON text of the id parts of each state made by journalState(). */
const idTexts = new WeakMap<JournalState, Partial<Record<IdsPart, string>>>();

/**
 * A state whose id parts are given as their JSON text (DatedIds.toJson()): journalText writes that text as it is, so
 * a save does not serialize every id again; reading `state.usedIds` gives the record (parsed once, frozen). The keys
 * come in `head`'s order, then the id parts, then `intents`, as the journal has always written them.
 */
export function journalState(head: Omit<JournalState, IdsPart | 'intents'>, ids: { usedIds: string; brokerOrderIds?: string }, intents: IntentRecord[]): JournalState {
  const used = lazyRecord(ids.usedIds);
  const seenText = ids.brokerOrderIds;
  // All three as getters: V8 defines a literal's getters after its plain values, so plain `intents` would come first.
  let state: JournalState;
  if (seenText === undefined) {
    state = {
      ...head,
      get usedIds() {
        return used();
      },
      get intents() {
        return intents;
      },
    };
  } else {
    const seen = lazyRecord(seenText);
    state = {
      ...head,
      get usedIds() {
        return used();
      },
      get brokerOrderIds() {
        return seen();
      },
      get intents() {
        return intents;
      },
    };
  }
  idTexts.set(state, { ...ids });
  return state;
}

function lazyRecord(text: string): () => Readonly<Record<string, number>> {
  let record: Readonly<Record<string, number>> | undefined;
  return () => (record ??= Object.freeze(JSON.parse(text) as Record<string, number>));
}

/**
 * A state as JSON, byte for byte what JSON.stringify(state) gives, with the id parts of a journalState() written from
 * their text instead of serialized again.
 */
export function journalText(state: JournalState): string {
  const texts = idTexts.get(state);
  if (!texts) return JSON.stringify(state);
  // Concatenated, not joined: the ids' text is not copied here (a file journal copies it once, into its write).
  let out = '';
  for (const key of Object.keys(state)) {
    const text = texts[key as IdsPart] ?? JSON.stringify((state as unknown as Record<string, unknown>)[key]);
    if (text !== undefined) out += `${out ? ',' : '{'}${JSON.stringify(key)}:${text}`; // undefined: left out, as JSON.stringify does
  }
  return out ? `${out}}` : '{}';
}

export class MemoryJournal implements Journal {
  readonly where = 'in memory';
  private state: string | null = null;
  saves = 0;

  async load(): Promise<JournalState | null> {
    return this.loadSync();
  }

  loadSync(): JournalState | null {
    return this.state === null ? null : checkState(JSON.parse(this.state), this.where);
  }

  save(state: JournalState): void {
    this.state = journalText(state);
    this.saves++;
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Log bytes after which the next save rewrites the file with the newest snapshot alone. */
export const FILE_JOURNAL_COMPACT_BYTES = 1 << 20;

export interface FileJournalOptions {
  /** Log bytes after which the next save rewrites the file (FILE_JOURNAL_COMPACT_BYTES). */
  compactBytes?: number;
}

export class FileJournal implements Journal {
  readonly file: string;
  readonly where: string;
  private readonly compactBytes: number;
  /** Open for appending, once this instance has rewritten the file; undefined: the next save rewrites it. */
  private fd: number | undefined;
  private ino = 0;
  private size = 0;
  /** A background flush is running on `flushing` (that descriptor is closed only once it is done). */
  private flushing: number | undefined;
  private closeAfterFlush = false;
  /** Appended since the last flush started. */
  private unflushed = false;
  private flushQueued = false;

  constructor(dir: string, broker: string, account: string, options: FileJournalOptions = {}) {
    if (!dir) throw new InvalidInputError('The risk journal needs a directory (the Node-RED user directory).');
    this.file = path.join(dir, journalFileName(broker, account));
    this.where = `file ${this.file}`;
    this.compactBytes = options.compactBytes ?? FILE_JOURNAL_COMPACT_BYTES;
  }

  async load(): Promise<JournalState | null> {
    return this.loadSync();
  }

  loadSync(): JournalState | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new JournalError(`The risk journal ${this.where} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    try {
      return checkState(JSON.parse(lastRecord(text)), this.where);
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw new JournalError(`The risk journal ${this.where} is damaged (${errorMessage(err)}): trading stays HALTED until it is fixed or removed.`, { cause: err });
    }
  }

  save(state: JournalState): void {
    this.write(state, true);
  }

  saveSoon(state: JournalState): void {
    this.write(state, false);
    if (this.fd === undefined) return; // rewritten: already on the disk
    this.unflushed = true;
    // From the next turn: a save() later in this one (an order's authorizeSend after its reserve) flushes it anyway.
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flushInBackground();
    });
  }

  private write(state: JournalState, durable: boolean): void {
    const record = Buffer.from(`${journalText(state)}\n`, 'utf8');
    try {
      if (this.fd !== undefined && this.size + record.length <= this.compactBytes && this.stillOurs()) {
        writeAll(this.fd, record);
        this.size += record.length;
        if (durable) {
          fdatasyncSync(this.fd); // everything appended before it too
          this.unflushed = false;
        }
      } else {
        this.rewrite(record);
      }
    } catch (err) {
      this.closeLog(); // whatever the failed write left in the file, the next save replaces the whole file
      throw new JournalError(`The risk journal ${this.where} could not be written (${errorMessage(err)}): no order leaves until it can be.`, { cause: err });
    }
  }

  /** One fdatasync at a time off the event loop; news appended meanwhile gets the next one. */
  private flushInBackground(): void {
    if (this.flushing !== undefined || this.fd === undefined || !this.unflushed) return;
    const fd = this.fd;
    this.flushing = fd;
    this.unflushed = false;
    fdatasync(fd, (err) => {
      this.flushing = undefined;
      if (this.closeAfterFlush) {
        this.closeAfterFlush = false;
        closeQuietly(fd);
      } else if (err && this.fd === fd) {
        this.closeLog(); // not known to be on disk: the next save rewrites the whole file (and flushes it)
        return;
      }
      this.flushInBackground();
    });
  }

  /** Flushes what saveSoon() appended (the background flush does it anyway). */
  async flush(): Promise<void> {
    if (this.fd !== undefined && this.unflushed) {
      fdatasyncSync(this.fd);
      this.unflushed = false;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closeLog();
  }

  /** The file under our name is still the one we append to (not replaced by another writer). */
  private stillOurs(): boolean {
    try {
      return statSync(this.file).ino === this.ino;
    } catch {
      return false;
    }
  }

  /** The newest snapshot alone, atomically: a temporary file, fsync, rename over the old one, fsync of the directory. */
  private rewrite(record: Buffer): void {
    this.closeLog();
    const dir = path.dirname(this.file);
    const tmp = `${this.file}.tmp`;
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeAll(fd, record);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    syncDir(dir);
    this.fd = openSync(this.file, 'a');
    this.ino = fstatSync(this.fd).ino;
    this.size = record.length;
  }

  private closeLog(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.unflushed = false;
    if (this.flushing === fd) this.closeAfterFlush = true; // its background flush still uses it
    else closeQuietly(fd);
  }
}

/**
 * The newest complete record of a journal file: its last complete line (what follows the last newline is an append
 * cut short by a crash: its save never returned), or the whole text when it has no newline (a single snapshot).
 * Every complete line must be a record: one that is not means the file is damaged.
 */
function lastRecord(text: string): string {
  const end = text.lastIndexOf('\n');
  if (end < 0) return text;
  const lines = text.slice(0, end).split('\n');
  for (let i = 0; i < lines.length - 1; i++) JSON.parse(lines[i]!);
  return lines[lines.length - 1]!;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing more to release
  }
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** The rename is durable only once the directory entry is: fsync the directory where the platform allows it. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface RedisJournalOptions {
  redis: { host: string; port: number; password?: string };
  /** Key prefix; the key is `<prefix>:<broker>-<account>`. */
  prefix?: string;
  broker: string;
  account: string;
  /** The synchronous local copy (write-before-send); a MemoryJournal when none. */
  local?: Journal & { loadSync?: () => JournalState | null };
  /** Reports a Redis write that failed (the local copy still holds the state). */
  onError?: (err: Error) => void;
}

export class RedisJournal implements Journal {
  readonly where: string;
  private readonly client: Redis;
  private readonly key: string;
  private readonly local: Journal;
  private readonly onError: (err: Error) => void;
  private pending: Promise<void> = Promise.resolve();
  private connecting: Promise<void> | undefined;

  constructor(options: RedisJournalOptions) {
    this.key = `${options.prefix ?? 'mia-trading'}:${journalFileName(options.broker, options.account).replace(/\.json$/, '')}`;
    this.where = `redis key ${this.key}`;
    this.local = options.local ?? new MemoryJournal();
    this.onError = options.onError ?? (() => undefined);
    this.client = new Redis({ host: options.redis.host, port: options.redis.port, password: options.redis.password, lazyConnect: true, maxRetriesPerRequest: 2 });
    this.client.on('error', () => undefined); // each failed command is reported by its own promise
  }

  async load(): Promise<JournalState | null> {
    const local = await this.local.load();
    let text: string | null;
    try {
      await this.connect();
      text = await this.client.get(this.key);
    } catch (err) {
      throw new JournalError(`The risk journal ${this.where} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    const shared = text === null ? null : checkState(JSON.parse(text), this.where);
    if (!shared) return local;
    if (!local) return shared;
    return shared.savedAt >= local.savedAt ? shared : local;
  }

  save(state: JournalState): void {
    this.local.save(state);
    this.toRedis(state);
  }

  saveSoon(state: JournalState): void {
    if (this.local.saveSoon) this.local.saveSoon(state);
    else this.local.save(state);
    this.toRedis(state);
  }

  private toRedis(state: JournalState): void {
    const text = journalText(state);
    this.pending = this.pending
      .then(async () => {
        await this.connect();
        await this.client.set(this.key, text);
      })
      .catch((err: unknown) => this.onError(new JournalError(`The risk journal ${this.where} could not be written: ${errorMessage(err)}`, { cause: err })));
  }

  flush(): Promise<void> {
    return this.pending;
  }

  /** One connect for every caller (ioredis refuses a second connect() while the first is under way). */
  private connect(): Promise<void> {
    this.connecting ??= this.client.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  async close(): Promise<void> {
    await this.pending;
    await this.local.close();
    this.client.disconnect();
  }
}
