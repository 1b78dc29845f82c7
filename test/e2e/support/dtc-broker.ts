// The broker for the crash test (test/e2e/crash.test.ts): the DTC simulator on a seeded market, in its own
// long-lived process so it outlives every `kill -9` of Node-RED. Started with `node --import tsx`, it prints one JSON
// line {dtcPort, httpPort} when listening, then serves its own record at GET http://127.0.0.1:<httpPort>/state.
//
// Node-RED reaches the simulator through a tap on loopback that reads every message the client sends, so the record
// holds every order request the broker ever received (also one the account refused, e.g. a duplicate ClientOrderID,
// which the account's own order list does not keep).
//
// argv: <symbol> <seed> <startTimeMs>
import http from 'http';
import net from 'net';
import { createMarket } from '../../../lib/sim/market';
import { startDtcSimulator } from '../../../lib/sim/dtc';
import { DtcFrameDecoder } from '../../../lib/sierra/framing';
import { MessageType, type DtcMessage } from '../../../lib/sierra/protocol';

export interface ReceivedRequest {
  /** Wall-clock ms when the request arrived. */
  at: number;
  /** Which client connection (1, 2, ...): a new one after each restart of Node-RED. */
  connection: number;
  type: 'single' | 'oco' | 'flatten' | 'cancel' | 'cancel-replace';
  /** The ClientOrderIDs the request asks the broker to create (none for a cancel). */
  clientOrderIds: string[];
  /** For a single order: the parent it is a child of, if any. */
  parent?: string;
  side?: number;
  quantity?: number;
}

const [symbol, seedText, startText] = process.argv.slice(2);
if (!symbol || !seedText || !startText) throw new Error('usage: dtc-broker.ts <symbol> <seed> <startTimeMs>');

function requestOf(m: DtcMessage, connection: number): ReceivedRequest | null {
  const f = m as unknown as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const at = Date.now();
  switch (m.Type) {
    case MessageType.SUBMIT_NEW_SINGLE_ORDER:
      return { at, connection, type: 'single', clientOrderIds: [str(f.ClientOrderID)], side: num(f.BuySell), quantity: num(f.Quantity) };
    case MessageType.SUBMIT_NEW_OCO_ORDER:
      return {
        at,
        connection,
        type: 'oco',
        clientOrderIds: [str(f.ClientOrderID_1), str(f.ClientOrderID_2)],
        parent: str(f.ParentTriggerClientOrderID) || undefined,
        quantity: num(f.Quantity_1),
      };
    case MessageType.SUBMIT_FLATTEN_POSITION_ORDER:
      return { at, connection, type: 'flatten', clientOrderIds: [str(f.ClientOrderID)] };
    case MessageType.CANCEL_ORDER:
      return { at, connection, type: 'cancel', clientOrderIds: [] };
    case MessageType.CANCEL_REPLACE_ORDER:
      return { at, connection, type: 'cancel-replace', clientOrderIds: [] };
    default:
      return null;
  }
}

async function main(): Promise<void> {
  const market = createMarket({ seed: Number(seedText), startTime: Number(startText), speed: 1 });
  market.start();
  const simulator = await startDtcSimulator({ market, host: '127.0.0.1', port: 0, encoding: 'automatic', account: 'Sim1', symbol });
  const received: ReceivedRequest[] = [];
  let connections = 0;

  // The tap: bytes pass unchanged both ways; the client's side is decoded as the simulator decodes it.
  const tap = net.createServer((client) => {
    const connection = ++connections;
    const upstream = net.connect(simulator.port, '127.0.0.1');
    const decoder = new DtcFrameDecoder();
    decoder.expectBinaryMessage(); // the client's ENCODING_REQUEST (Sierra's "Automatic" handshake)
    client.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(chunk)) {
        const r = requestOf(m, connection);
        if (r) received.push(r);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => tap.listen(0, '127.0.0.1', resolve));

  const web = http.createServer((req, res) => {
    if (req.url !== '/state') {
      res.writeHead(404).end();
      return;
    }
    const state = {
      now: Date.now(),
      connections,
      sessions: simulator.sessionCount(),
      received,
      orders: simulator.orders(),
      positions: simulator.positions(),
      fills: simulator.fills(),
      balance: simulator.balance(),
    };
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(state));
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));

  const port = (s: net.Server | http.Server): number => (s.address() as net.AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ dtcPort: port(tap), httpPort: port(web) })}\n`);
  const stop = (): void => {
    market.stop();
    void simulator.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Gone with its parent: never left running after the test.
  process.on('disconnect', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`dtc-broker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
