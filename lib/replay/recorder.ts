// Records what the IBKR side receives to one gzip JSON-lines file per ES trading day (format: recording.ts).
// Lines are buffered and appended as one complete gzip member per flush (every `flushMs` or `flushBytes`), so the
// byte count is exact, a crash loses at most the unflushed buffer, and no stream back-pressure can grow memory.
// Bounded: a member that would take the day's file past `maxBytes` is not written; the recorder stops for that day
// and warns once. A write error also stops it with a warning: recording never takes the flow down.
import fs from 'fs';
import path from 'path';
import zlib from 'zlib';
import { InvalidInputError } from '../errors';
import { isoDate } from '../trading/cme-calendar';
import { tradeDateAtOrAfter } from '../sim/calendar';
import { RECORDING_VERSION } from './recording';

export interface RecorderOptions {
  /** Folder of the day files (created if missing), e.g. <Node-RED user dir>/mia-recordings. */
  dir: string;
  /** Per-day cap on the compressed file, bytes (> 0). */
  maxBytes: number;
  /** File name prefix: <prefix>-<YYYY-MM-DD>.jsonl.gz. */
  prefix?: string;
  /** Stop-and-warn notices (cap reached, write error). */
  onWarning?: (message: string) => void;
  /** Extra fields for the meta record at the head of each file. */
  meta?: Record<string, unknown>;
  /** Flush the buffer at least this often (real ms; 0: only on size and close). Default 1000. */
  flushMs?: number;
  /** Flush once the buffer holds this many uncompressed bytes. Default 256 KB. */
  flushBytes?: number;
}

export function recordingFileName(prefix: string, t: number): string {
  return `${prefix}-${isoDate(tradeDateAtOrAfter(t))}.jsonl.gz`;
}

interface DayFile {
  day: number;
  file: string;
  bytes: number;
  stopped: boolean;
}

export class Recorder {
  private readonly prefix: string;
  private readonly flushBytes: number;
  private current: DayFile | undefined;
  private buffer: string[] = [];
  private buffered = 0;
  private closed = false;
  private lastT = -Infinity;
  private readonly timer: NodeJS.Timeout | undefined;
  records = 0;

  constructor(private readonly options: RecorderOptions) {
    if (!(typeof options.maxBytes === 'number' && options.maxBytes > 0 && Number.isFinite(options.maxBytes))) {
      throw new InvalidInputError(`recorder: the size cap must be a number of bytes > 0, got ${JSON.stringify(options.maxBytes)}`);
    }
    if (typeof options.dir !== 'string' || options.dir === '') throw new InvalidInputError('recorder: a folder is needed');
    this.prefix = options.prefix ?? 'ES';
    if (!/^[A-Za-z0-9_.-]+$/.test(this.prefix)) throw new InvalidInputError(`recorder: bad file prefix ${JSON.stringify(this.prefix)}`);
    this.flushBytes = options.flushBytes ?? 256 * 1024;
    const flushMs = options.flushMs ?? 1000;
    if (flushMs > 0) {
      this.timer = setInterval(() => this.flush(), flushMs);
      this.timer.unref();
    }
  }

  /** The file of the day being recorded, if any. */
  get file(): string | undefined {
    return this.current?.file;
  }

  /** Whether records of time `t` would be written now. */
  active(t: number): boolean {
    if (this.closed) return false;
    const cur = this.current;
    return !(cur && cur.day === tradeDateAtOrAfter(t) && cur.stopped);
  }

  /**
   * Appends one record. Times must not go back (a record older than the last is refused: the file stays in time
   * order). Returns false when the record was not kept (cap reached, error, closed).
   */
  record(topic: string, payload: object, t: number): boolean {
    if (this.closed) return false;
    if (!Number.isFinite(t)) throw new InvalidInputError(`recorder: record time must be epoch ms, got ${String(t)}`);
    if (t < this.lastT) throw new InvalidInputError(`recorder: record at ${new Date(t).toISOString()} is older than the last one`);
    const day = tradeDateAtOrAfter(t);
    let cur = this.current;
    if (!cur || cur.day !== day) {
      this.flush();
      cur = this.open(day, t);
      this.current = cur;
    }
    if (cur.stopped) return false;
    this.lastT = t;
    this.push(JSON.stringify({ t, topic, payload }) + '\n');
    this.records++;
    return true;
  }

  /** Compresses the buffer and appends it to the day's file as one gzip member. */
  flush(): void {
    const cur = this.current;
    if (!cur || this.buffer.length === 0) return;
    const member = zlib.gzipSync(this.buffer.join(''));
    this.buffer = [];
    this.buffered = 0;
    if (cur.stopped) return;
    if (cur.bytes + member.length > this.options.maxBytes) {
      this.stop(cur, `recording to ${cur.file} stopped: the day's cap of ${(this.options.maxBytes / 1048576).toFixed(1)} MB is reached`);
      return;
    }
    try {
      fs.appendFileSync(cur.file, member);
      cur.bytes += member.length;
    } catch (err) {
      this.stop(cur, `recording to ${cur.file} stopped: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }

  /** Flushes and stops; later records are ignored. */
  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.current = undefined;
    return Promise.resolve();
  }

  private push(line: string): void {
    this.buffer.push(line);
    this.buffered += line.length;
    if (this.buffered >= this.flushBytes) this.flush();
  }

  private open(day: number, t: number): DayFile {
    const file = path.join(this.options.dir, recordingFileName(this.prefix, t));
    const cur: DayFile = { day, file, bytes: 0, stopped: false };
    try {
      fs.mkdirSync(this.options.dir, { recursive: true });
      cur.bytes = fs.statSync(file).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.stop(cur, `recording to ${file} not started: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        return cur;
      }
    }
    if (cur.bytes >= this.options.maxBytes) {
      this.stop(cur, `recording to ${file} not started: the file is already at the day's cap of ${(this.options.maxBytes / 1048576).toFixed(1)} MB`);
    } else {
      this.push(JSON.stringify({ t, topic: 'meta', payload: { version: RECORDING_VERSION, ...this.options.meta } }) + '\n');
    }
    return cur;
  }

  private stop(cur: DayFile, message: string): void {
    if (cur.stopped) return;
    cur.stopped = true;
    this.options.onWarning?.(message);
  }
}
