// The replay controls ibkr-auth forwards (msg.payload = { replay: ... }) to the replayed market of ibkr-config.
import { InvalidInputError } from '../errors';
import type { RecordedMarket, ReplayStatus } from './recorded-market';

const REPLAY_COMMANDS = ['status', 'pause', 'resume', 'step', 'speed'] as const;

/**
 * Replay controls (ibkr-config in replay mode): msg.payload = { replay: 'status' | 'pause' | 'resume' |
 * 'step' (with ms > 0: move the replay clock forward) | 'speed' (with speed: a number > 0 or "max") }.
 */
export function runReplayCommand(market: RecordedMarket | undefined, payload: Record<string, unknown>): ReplayStatus {
  if (!market) throw new InvalidInputError('replay commands need the IBKR connection in replay mode: set its mode to "Replay a recording".');
  const command = payload.replay;
  if (typeof command !== 'string' || !(REPLAY_COMMANDS as readonly string[]).includes(command)) {
    throw new InvalidInputError(`replay command ${JSON.stringify(command)} is not one of ${REPLAY_COMMANDS.join(', ')}.`);
  }
  if (command === 'pause') market.pause();
  else if (command === 'resume') market.resume();
  else if (command === 'step') market.step(payload.ms as number);
  else if (command === 'speed') market.setSpeed(payload.speed);
  return market.status();
}

