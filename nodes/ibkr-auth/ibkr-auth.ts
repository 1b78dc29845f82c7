// ibkr-auth: reports and drives the IBKR session of its ibkr-config. Every session state change leaves as a message
// (topic 'ibkr-auth'); input 'status' | 'login' | 'reauth' | 'logout' runs that command and answers with the state
// after it. Input 'metrics' (and, with "Metrics every (s)" set, a timer) answers with the connection's figures
// (topic 'metrics', lib/metrics). The status ring mirrors the session.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError } from '../../lib/errors';
import { metricsPeriodMs } from '../../lib/metrics';
import { runReplayCommand } from '../../lib/replay/controls';
import { SESSION_COMMANDS, type IbkrStateEvent, type SessionCommand } from '../../lib/ibkr/link';
import { readMetrics } from '../ibkr-config/metrics-source';
import { ibkrConfigNode, showSessionStatus } from '../shared/ibkr-connection-registry';
import { handleClose, handleInput, statusError } from '../shared/node-kit';

interface IbkrAuthDef extends NodeDef {
  connection: string;
  /** "Metrics every (s)": 0 or empty = only on request. */
  metricsEverySec?: number | string;
}

type AuthCommand = SessionCommand | 'metrics';

function readCommand(payload: unknown): AuthCommand {
  const command = typeof payload === 'string' ? payload.trim().toLowerCase() : undefined;
  if (command === 'metrics') return command;
  if (command === undefined || !(SESSION_COMMANDS as readonly string[]).includes(command)) {
    const got = typeof payload === 'string' ? `"${payload}"` : payload === null ? 'null' : typeof payload;
    throw new InvalidInputError(`ibkr-auth: msg.payload ${got} is not a session command: send "status", "login", "reauth" or "logout" (or "metrics" for the connection's figures).`);
  }
  return command as SessionCommand;
}

function stateMessage(event: IbkrStateEvent): NodeMessage {
  return { topic: 'ibkr-auth', payload: { ...event } } as NodeMessage;
}

export = function register(RED: NodeAPI): void {
  function IbkrAuthNode(this: Node, config: IbkrAuthDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the handlers below run later
    let unsubscribe: (() => void) | undefined;
    let configError: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const periodMs = metricsPeriodMs(config.metricsEverySec, 'ibkr-auth');
      const ibkr = ibkrConfigNode(RED, config.connection, 'ibkr-auth');
      showSessionStatus(node, ibkr.sessionState());
      unsubscribe = ibkr.onState((event) => {
        showSessionStatus(node, event);
        node.send(stateMessage(event));
      });
      if (periodMs > 0) {
        timer = setInterval(() => {
          try {
            node.send({ topic: 'metrics', payload: readMetrics(ibkr) } as NodeMessage);
          } catch {
            // No connection yet: the status ring already says why; the next tick tries again.
          }
        }, periodMs);
      }
    } catch (err) {
      configError = err instanceof Error ? err : new Error(String(err));
      statusError(node, configError);
    }

    handleInput(node, async (msg, send) => {
      if (typeof msg.payload === 'object' && msg.payload !== null && 'replay' in msg.payload) {
        if (configError) throw configError;
        const ibkr = ibkrConfigNode(RED, config.connection, 'ibkr-auth');
        msg.topic = 'replay';
        msg.payload = runReplayCommand(ibkr.replay(), msg.payload as Record<string, unknown>);
        send(msg);
        return;
      }
      const command = readCommand(msg.payload);
      if (configError) throw configError;
      const ibkr = ibkrConfigNode(RED, config.connection, 'ibkr-auth');
      if (ibkr.settingsError) throw ibkr.settingsError;
      if (command === 'metrics') {
        msg.topic = 'metrics';
        msg.payload = readMetrics(ibkr);
        send(msg);
        return;
      }
      const after = await ibkr.command(command);
      showSessionStatus(node, after);
      msg.topic = 'ibkr-auth';
      msg.payload = { ...after, command };
      send(msg);
    });

    handleClose(node, () => {
      if (timer) clearInterval(timer);
      unsubscribe?.();
    });
  }

  RED.nodes.registerType('ibkr-auth', IbkrAuthNode);
};
