import { strict as assert } from 'assert';
import fs, { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { FileJournal, JOURNAL_VERSION, JournalError, MemoryJournal, journalFileName, type JournalState } from '../../../lib/trading/journal';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import type { RiskLedger } from '../../../lib/trading/risk-rules';

const state = (n: number, extra: Partial<JournalState> = {}): JournalState => ({
  version: JOURNAL_VERSION,
  broker: 'sierra',
  account: 'A1',
  savedAt: 1_000 + n,
  ledger: { killSwitch: 'ACTIVE', tradesToday: n } as unknown as RiskLedger,
  idSequence: n,
  usedIds: Object.fromEntries(Array.from({ length: n }, (_, i) => [`MIA-${i}`, 1_000 + i])),
  intents: [],
  ...extra,
});

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n');

describe('FileJournal: a write-ahead log of snapshots (one append and one data flush per save)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mia-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends one line per save to the same file (no rewrite, no rename) and a restart reads the newest', () => {
    const j = new FileJournal(dir, 'sierra', 'A1');
    j.save(state(1));
    const inode = statSync(j.file).ino;
    j.save(state(2));
    j.save(state(3));
    assert.equal(statSync(j.file).ino, inode, 'the saves after the first append to the file the first one wrote');
    assert.deepEqual(lines(j.file).map((l) => (l ? (JSON.parse(l) as JournalState).idSequence : '')), [1, 2, 3, '']);
    assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(3));
  });

  it('ignores an append cut short by a crash (its save never returned), and the next process starts a clean file', () => {
    const j = new FileJournal(dir, 'sierra', 'A1');
    j.save(state(1));
    j.save(state(2));
    const full = `${JSON.stringify(state(3))}\n`;
    appendFileSync(j.file, full.slice(0, 40)); // kill -9 in the middle of the third save's write
    const restarted = new FileJournal(dir, 'sierra', 'A1');
    assert.deepEqual(restarted.loadSync(), state(2));
    restarted.save(state(4));
    assert.deepEqual(lines(restarted.file), [JSON.stringify(state(4)), ''], 'the first save of a process rewrites the file: the torn line is gone');
    restarted.save(state(5));
    assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(5));
  });

  it('reads a journal written before the log (one snapshot, no newline), then continues it as a log', () => {
    const file = path.join(dir, journalFileName('sierra', 'A1'));
    writeFileSync(file, JSON.stringify(state(7)));
    const j = new FileJournal(dir, 'sierra', 'A1');
    assert.deepEqual(j.loadSync(), state(7));
    j.save(state(8));
    j.save(state(9));
    assert.equal(lines(file).length, 3);
    assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(9));
  });

  it('calls a file damaged when a complete line is not a record, or when a lone snapshot is cut (never trades on a guess)', () => {
    const file = path.join(dir, journalFileName('sierra', 'A1'));
    writeFileSync(file, `${JSON.stringify(state(1))}\n{"version":1,"led\n${JSON.stringify(state(3))}\n`);
    assert.throws(() => new FileJournal(dir, 'sierra', 'A1').loadSync(), (err: unknown) => err instanceof JournalError && /damaged/.test(err.message));
    writeFileSync(file, '{"version":1, "ledg');
    assert.throws(() => new FileJournal(dir, 'sierra', 'A1').loadSync(), (err: unknown) => err instanceof JournalError && /damaged/.test(err.message));
    writeFileSync(file, `${JSON.stringify({ ...state(1), version: 99 })}\n`);
    assert.throws(() => new FileJournal(dir, 'sierra', 'A1').loadSync(), /not a version 1 journal/);
  });

  it('rewrites the file with the newest snapshot alone once the log passes its size bound', () => {
    const fixed = (n: number): JournalState => state(n, { usedIds: { [`MIA-${n}`]: n } }); // every record the same size
    const one = Buffer.byteLength(`${JSON.stringify(fixed(20))}\n`);
    const j = new FileJournal(dir, 'sierra', 'A1', { compactBytes: 3 * one + 10 });
    const sizes: number[] = [];
    for (let n = 20; n < 30; n++) {
      j.save(fixed(n));
      sizes.push(lines(j.file).length - 1);
    }
    assert.deepEqual(sizes, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
    assert.ok(statSync(j.file).size <= 3 * one + 10);
    assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), fixed(29));
  });

  it('when another writer replaced the file, the next save rewrites it rather than append to the replaced one', () => {
    const a = new FileJournal(dir, 'sierra', 'A1');
    const b = new FileJournal(dir, 'sierra', 'A1');
    a.save(state(1));
    b.save(state(2));
    a.save(state(3));
    assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(3));
  });

  it('keeps the engine\'s guarantee: the reservation is in the file before reserve() returns, and survives a restart', () => {
    const instrumentOf = () => ({ root: 'ES', tickSize: 0.25, pointValue: 50, minQuantity: 1 }) as never;
    const e = new RiskEngine({ broker: 'sierra', account: 'A1', instrumentOf, journal: new FileJournal(dir, 'sierra', 'A1') });
    e.contributeLimits('n', { maxPosition: 5, maxOrderSize: 5, maxTradesPerDay: 100, dailyLossLimit: 1e6, maxConsecutiveLosses: 100, cooldownMin: 0, tradingHoursEnabled: false } as never);
    e.reconcile({ now: Date.parse('2026-03-03T15:00:00Z'), positions: [], working: [] });
    for (const id of ['o1', 'o2', 'o3']) {
      const v = e.reserve({ clientOrderId: id, instrument: 'ES', side: 'buy', quantity: 1, now: Date.parse('2026-03-03T15:00:00Z') });
      assert.ok(v.allowed, JSON.stringify(v));
      const onDisk = new FileJournal(dir, 'sierra', 'A1').loadSync();
      assert.ok(onDisk?.intents.some((i) => i.clientOrderId === id), `${id} journaled before reserve() returned`);
    }
  });

  describe('news from the broker (saveSoon): written at once, flushed to the disk off the event loop', () => {
    type Fs = { fdatasyncSync: (fd: number) => void; fdatasync: (fd: number, cb: (err: Error | null) => void) => void };
    const real = { ...(fs as unknown as Fs) };
    let calls: string[];
    let flushErrors: Error[];
    beforeEach(() => {
      calls = [];
      flushErrors = [];
      const f = fs as unknown as Fs;
      f.fdatasyncSync = (fd) => {
        calls.push('sync');
        real.fdatasyncSync(fd);
      };
      f.fdatasync = (fd, cb) => {
        calls.push('background');
        real.fdatasync(fd, (err) => {
          if (err) flushErrors.push(err);
          cb(err);
        });
      };
    });
    afterEach(() => Object.assign(fs, { fdatasyncSync: real.fdatasyncSync, fdatasync: real.fdatasync }));
    const flushed = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

    it('a killed process loses nothing (a fresh reader sees it at once); the flush runs in the background, and save() flushes on the event loop', async () => {
      const j = new FileJournal(dir, 'sierra', 'A1');
      j.save(state(1)); // the first save of a process rewrites the file (fsync, not fdatasync)
      calls.length = 0;
      j.saveSoon(state(2));
      assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(2));
      assert.deepEqual(calls, [], 'the flush starts on the next turn');
      await flushed();
      assert.deepEqual(calls, ['background']);
      j.saveSoon(state(3));
      j.saveSoon(state(4)); // the same turn: one flush for both
      await flushed();
      assert.deepEqual(calls, ['background', 'background']);
      j.saveSoon(state(5));
      j.save(state(6)); // a save() in the same turn flushes both on the spot: no background flush after it
      await flushed();
      assert.deepEqual(calls, ['background', 'background', 'sync']);
      assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(6));
    });

    it('a rewrite while a background flush runs leaves that flush its file (closed after it) and loses nothing', async () => {
      const one = Buffer.byteLength(`${JSON.stringify(state(10))}\n`);
      const j = new FileJournal(dir, 'sierra', 'A1', { compactBytes: 2 * one + 10 });
      j.save(state(10));
      j.saveSoon(state(11));
      await new Promise((r) => setImmediate(r)); // the flush of the first descriptor starts
      j.saveSoon(state(12)); // over the bound: rewritten on a new descriptor while that flush may still run
      j.saveSoon(state(13));
      await flushed();
      j.save(state(14));
      assert.deepEqual(new FileJournal(dir, 'sierra', 'A1').loadSync(), state(14));
      assert.deepEqual(lines(j.file), [JSON.stringify(state(14)), '']);
      assert.deepEqual(flushErrors, []);
    });

    it('the risk engine flushes the state an order leaves on (save() at authorizeSend), the reservation and broker news with saveSoon()', () => {
      const used: string[] = [];
      const journal = Object.assign(new MemoryJournal(), {
        saveSoon(this: MemoryJournal, st: JournalState) {
          used.push('soon');
          MemoryJournal.prototype.save.call(this, st);
        },
      });
      const save = journal.save.bind(journal);
      journal.save = (st: JournalState) => {
        used.push('save');
        save(st);
      };
      const instrumentOf = () => ({ root: 'ES', tickSize: 0.25, pointValue: 50, minQuantity: 1 }) as never;
      const e = new RiskEngine({ broker: 'sierra', account: 'A1', instrumentOf, journal });
      e.contributeLimits('n', { maxPosition: 5, maxOrderSize: 5, tradingHoursEnabled: false, cooldownMin: 0 } as never);
      const now = Date.parse('2026-03-03T15:00:00Z');
      e.reconcile({ now, positions: [], working: [] });
      used.length = 0;
      assert.ok(e.reserve({ clientOrderId: 'p', instrument: 'ES', side: 'buy', quantity: 1, now, exits: ['p:t', 'p:s'] }).allowed);
      assert.deepEqual(used, ['soon']);
      assert.ok(e.authorizeSend('p').allowed);
      assert.deepEqual(used, ['soon', 'save']);
      used.length = 0;
      e.acknowledged('p', 'B1');
      e.onOrderUpdate('p', { status: 'filled', quantity: 1, filled: 1 });
      e.onFill({ clientOrderId: 'p', instrument: 'ES', side: 'buy', quantity: 1, price: 6000, now });
      assert.ok(used.length > 0 && used.every((u) => u === 'soon'), used.join());
      used.length = 0;
      e.setKillSwitch('HALTED');
      assert.deepEqual(used, ['save']);
    });
  });
});
