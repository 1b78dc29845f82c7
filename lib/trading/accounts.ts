// One risk engine per trading account (broker + account id), shared by every order node and config node that trades
// it. Module-level: a redeploy closes and re-creates the nodes but not this registry, so the engine — its kill switch,
// its counters, the orders it counts — lives on; after a Node-RED restart it is rebuilt from the journal. Each user
// acquires a handle and releases it on close; the engine is forgotten only when the last handle is released AND
// `keepAlive` is false (nothing keeps it by default: the journal carries it across).
import { errorMessage, InvalidInputError } from '../errors';
import { instrumentOf, type InstrumentOf } from './instrument-of';
import { FileJournal, MemoryJournal, type Journal, type JournalState } from './journal';
import { RiskEngine, type EngineLimits } from './risk-engine';
import type { SharedBudget } from './shared-budget';

export type Broker = 'ibkr' | 'sierra';

export interface AcquireOptions {
  broker: Broker;
  account: string;
  /** Who holds the handle (a node id): its limits are one contribution to the account's strictest limits. */
  holder: string;
  limits?: EngineLimits;
  /** Where the journal lives (e.g. `<userDir>/mia-trading`); absent: in memory for this process only. */
  journalDir?: string;
  /** A journal of another kind (Redis); takes precedence over journalDir. */
  journal?: Journal;
  instrumentOf?: InstrumentOf;
  /** The account's budget shared with other instances (Redis); taken when the engine is created. */
  shared?: SharedBudget;
}

export interface EngineHandle {
  readonly engine: RiskEngine;
  /** Replaces this holder's limits (strictest still applies). */
  setLimits(limits: EngineLimits): void;
  /** Idempotent. */
  release(): void;
}

interface Entry {
  engine: RiskEngine;
  holders: Map<string, () => void>;
}

const accounts = new Map<string, Entry>();
/** Journals of in-memory accounts, so a "restart" in tests and a redeploy both find the state. */
const memoryJournals = new Map<string, MemoryJournal>();

export function accountKey(broker: Broker, account: string): string {
  return `${broker}:${account}`;
}

function openJournal(o: AcquireOptions, key: string): Journal & { loadSync?: () => JournalState | null } {
  if (o.journal) return o.journal;
  if (o.journalDir) return new FileJournal(o.journalDir, o.broker, o.account);
  let m = memoryJournals.get(key);
  if (!m) {
    m = new MemoryJournal();
    memoryJournals.set(key, m);
  }
  return m;
}

/** The account's engine, created (and restored from its journal) on first use. */
export function acquireEngine(o: AcquireOptions): EngineHandle {
  if (typeof o.account !== 'string' || o.account.trim() === '') {
    throw new InvalidInputError(`The ${o.broker} trade account is not known yet: the risk engine counts exposure per account, so set the account (or wait for the connection to learn it).`);
  }
  const key = accountKey(o.broker, o.account);
  let entry = accounts.get(key);
  if (!entry) {
    const journal = openJournal(o, key);
    let restored: JournalState | null = null;
    let fault: string | null = null;
    try {
      restored = journal.loadSync ? journal.loadSync() : null;
    } catch (err) {
      fault = errorMessage(err);
    }
    const engine = new RiskEngine({ broker: o.broker, account: o.account, instrumentOf: o.instrumentOf ?? instrumentOf, journal, restored, shared: o.shared });
    if (fault) engine.faultJournal(fault);
    else if (!journal.loadSync) {
      engine.beginLoad();
      journal.load().then(
        (state) => engine.finishLoad(state),
        (err: unknown) => engine.faultJournal(errorMessage(err)),
      );
    }
    entry = { engine, holders: new Map() };
    accounts.set(key, entry);
  }
  const e = entry;
  const previous = e.holders.get(o.holder);
  previous?.();
  e.holders.set(o.holder, e.engine.contributeLimits(o.holder, o.limits ?? {}));
  let released = false;
  return {
    engine: e.engine,
    setLimits(limits: EngineLimits): void {
      const remove = e.engine.contributeLimits(o.holder, limits);
      e.holders.set(o.holder, remove);
    },
    release(): void {
      if (released) return;
      released = true;
      e.holders.get(o.holder)?.();
      e.holders.delete(o.holder);
    },
  };
}

/** The engine of an account if one exists (status, dashboards). */
export function findEngine(broker: Broker, account: string): RiskEngine | undefined {
  return accounts.get(accountKey(broker, account))?.engine;
}

/** Forgets every engine (a simulated Node-RED restart in tests: the journal is what remains). */
export function resetAccountsForTest(options: { keepMemoryJournals?: boolean } = {}): void {
  accounts.clear();
  if (!options.keepMemoryJournals) memoryJournals.clear();
}
