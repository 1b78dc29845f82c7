// One replayed market per recording in the process, shared by the IBKR simulator (ibkr-config, replay mode) and the
// DTC simulator (sierra-config), so orders fill on the prices the flow sees. Reference-counted: the first user
// creates and starts it, the last release stops it. Keyed by the recording's absolute path.
import path from 'path';
import { LeaseRegistry } from '../leases';
import { RecordedMarket, type RecordedMarketOptions } from './recorded-market';
import { readRecording } from './recording';

const markets = new LeaseRegistry<RecordedMarket>((market) => market.stop());

export interface ReplayLease {
  market: RecordedMarket;
  key: string;
  release(): void;
}

/** The replay of `file`: the running one if any (its options win), or a new one read from the file. */
export function acquireReplay(file: string, options: RecordedMarketOptions = {}): ReplayLease {
  const key = path.resolve(file);
  const lease = markets.acquire(key, () => {
    const market = new RecordedMarket(readRecording(key), options);
    market.start();
    return market;
  });
  return { market: lease.value, key, release: lease.release };
}

/** The running replay of `file`, if one is (sierra-config joins it rather than reading the file again). */
export function runningReplay(file: string): RecordedMarket | undefined {
  return markets.get(path.resolve(file));
}

/** The running replays (for a sierra-config that fills against "the IBKR replay" without naming a file). */
export function runningReplays(): string[] {
  return markets.keys();
}
