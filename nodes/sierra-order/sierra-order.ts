// sierra-order: a Battle Navale signal or an order message in → Sierra Chart orders through the connection of its
// sierra-config node (every order passes the risk gate first); order updates, fills, positions and account snapshots
// out, one output each. `kill` halts trading, cancels working orders and flattens; `resume` returns to ACTIVE.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { AccountSnapshot, Fill, OrderUpdate, Position } from '../../lib/contracts';
import { InvalidInputError, errorMessage } from '../../lib/errors';
import type { ConnectionStatus, SierraConnection } from '../../lib/sierra/connection';
import { classifyInput, orderRequestToCommand, signalToIntent, type OrderCommand } from '../../lib/sierra/signal-to-order';
import { handleClose, handleInput, setStatus, statusError } from '../shared/node-kit';
import { sierraConfigNode } from '../sierra-config/api';

interface SierraOrderDef extends NodeDef {
  connection?: string;
  quantity?: number | string;
  entry?: string;
  target?: string | number;
}

interface SignalSettings {
  quantity: number;
  entry: 'limit' | 'market';
  target: 1 | 2;
}

function readSettings(config: SierraOrderDef): SignalSettings {
  const quantity = config.quantity === undefined || config.quantity === '' ? 1 : Number(config.quantity);
  if (!Number.isInteger(quantity) || quantity <= 0) throw new InvalidInputError(`sierra-order: quantity "${String(config.quantity)}" is not valid: use a whole number of contracts ≥ 1.`);
  const entry = config.entry === 'market' ? 'market' : 'limit';
  const target = String(config.target ?? '1') === '2' ? 2 : 1;
  return { quantity, entry, target };
}

const usd = (x: number): string => `${x < 0 ? '−' : '+'}$${Math.abs(Math.round(x))}`;
const describePosition = (q: number): string => (q > 0 ? `long ${q}` : q < 0 ? `short ${-q}` : 'flat');

/** The status ring: connection first, then HALTED, trading off, and position with today's P&L. */
function showStatus(node: Node, s: ConnectionStatus): void {
  switch (s.state) {
    case 'starting':
    case 'connecting':
      setStatus(node, 'yellow', 'ring', 'connecting');
      return;
    case 'reconciling':
      setStatus(node, 'yellow', 'ring', 'reconciling orders');
      return;
    case 'disconnected':
      setStatus(node, 'red', 'ring', 'disconnected: retrying');
      return;
    case 'error':
      setStatus(node, 'red', 'ring', s.reason || 'connection failed');
      return;
    case 'closed':
      setStatus(node, 'grey', 'ring', 'closed');
      return;
    case 'ready':
      break;
  }
  const book = `${describePosition(s.position)} · ${usd(s.dailyPnl)}`;
  if (s.killSwitch === 'HALTED') setStatus(node, 'red', 'dot', `HALTED · ${book}`);
  else if (!s.tradingEnabled) setStatus(node, 'grey', 'ring', `trading off · ${book}`);
  else if (s.killSwitch === 'REDUCING') setStatus(node, 'yellow', 'dot', `reducing · ${book}`);
  else setStatus(node, 'green', 'dot', book);
}

async function execute(connection: SierraConnection, command: OrderCommand): Promise<void> {
  switch (command.action) {
    case 'submit':
      await connection.submit(command.intent);
      return;
    case 'cancel':
      await connection.cancel(command.clientOrderId);
      return;
    case 'modify':
      await connection.modify(command.clientOrderId, command.change);
      return;
    case 'flatten':
      await connection.flatten(command.symbol);
      return;
    case 'cancel-all':
      await connection.cancelAll(command.symbol);
      return;
  }
}

export = function register(RED: NodeAPI): void {
  function SierraOrderNode(this: Node, config: SierraOrderDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    let settings: SignalSettings | undefined;
    let setupError: Error | undefined;
    let connection: Promise<SierraConnection> = Promise.reject(new Error('not connected'));
    connection.catch(() => undefined);
    const detach: (() => void)[] = [];
    let closed = false;

    setStatus(node, 'yellow', 'ring', 'connecting');
    try {
      settings = readSettings(config);
      const configNode = sierraConfigNode(RED, config.connection, 'sierra-order');
      connection = configNode.connection();
      connection.catch(() => undefined); // reported by the status below and by every input
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(errorMessage(err));
      statusError(node, setupError);
    }

    void connection.then(
      (c) => {
        if (closed) return; // redeployed before the connection started
        const relay = <T>(event: string, output: number, topic: string) => {
          const listener = (payload: T): void => {
            const out: (NodeMessage | null)[] = [null, null, null, null];
            out[output] = { topic, payload };
            node.send(out);
          };
          c.on(event, listener);
          detach.push(() => c.off(event, listener));
        };
        relay<OrderUpdate>('order-update', 0, 'order-update');
        relay<Fill>('fill', 1, 'fill');
        relay<Position>('position', 2, 'position');
        relay<AccountSnapshot>('account', 3, 'account');
        const onStatus = (s: ConnectionStatus): void => showStatus(node, s);
        c.on('status', onStatus);
        detach.push(() => c.off('status', onStatus));
        showStatus(node, c.status());
      },
      (err: unknown) => {
        if (!setupError) statusError(node, err);
      },
    );

    handleInput(node, async (msg) => {
      if (setupError || !settings) throw setupError ?? new Error('sierra-order is not configured.');
      const input = classifyInput(msg);
      const c = await connection;
      switch (input.kind) {
        case 'price':
          c.setLastTrade(input.price);
          return;
        case 'kill': {
          const result = await c.kill();
          node.warn(`Kill switch HALTED: ${result.cancelled.length} order(s) cancelled, ${result.flattened.length} position(s) flattened. Send 'resume' to trade again.`);
          return;
        }
        case 'resume':
          c.resume();
          node.log('Kill switch back to ACTIVE: new orders pass the risk rules again.');
          return;
        case 'signal': {
          const intent = signalToIntent(input.payload, { ...settings, symbol: c.symbol });
          if (intent) await c.submit(intent);
          return;
        }
        case 'order':
          await execute(c, orderRequestToCommand(input.payload, { symbol: c.symbol, quantity: settings.quantity }));
          return;
      }
    });

    handleClose(node, () => {
      closed = true;
      for (const off of detach.splice(0)) off();
    });
  }

  RED.nodes.registerType('sierra-order', SierraOrderNode);
};
