// The IBKR simulator as its own tests start it: a seeded market in regular trading hours, the simulator without rate
// limits unless a test asks, and plain axios trusting its certificate (no project client). Closing the simulator stops
// the market too.
import axios, { type AxiosInstance } from 'axios';
import https from 'https';
import { createMarket } from '../../../../../lib/sim/market';
import { type IbkrSimulator, type IbkrSimulatorOptions, startIbkrSimulator } from '../../../../../lib/sim/ibkr';

const START = Date.UTC(2025, 5, 11, 14, 0); // Wednesday 10:00 New York: RTH

export interface Harness {
  sim: IbkrSimulator;
  http: AxiosInstance;
  /** The front ES contract. */
  esConid: number;
}

export async function startHarness(options: IbkrSimulatorOptions = {}): Promise<Harness> {
  const market = createMarket({ seed: 7, startTime: START });
  market.start();
  const sim = await startIbkrSimulator({ market, rateLimits: false, ...options });
  const http = axios.create({ baseURL: sim.baseUrl, httpsAgent: new https.Agent({ ca: sim.certificatePem }), validateStatus: () => true });
  const esConid = [...market.esContracts()].sort((a, b) => a.expiry.localeCompare(b.expiry))[0].conid;
  const close = sim.close.bind(sim);
  sim.close = async () => {
    await close();
    market.stop();
  };
  return { sim, http, esConid };
}
