// The settings of each deployed mia-battle-navale node, so a backtest can run "the same Battle Navale" as the live
// flow: the node publishes what its dialog holds when it starts and withdraws it when it closes.
import type { SettingsInput } from '../../lib/strategy/settings';

const published = new Map<string, SettingsInput>();

/** Publishes node `id`'s settings; returns the withdrawal (only withdraws what this call published). */
export function publishBattleNavaleSettings(id: string, settings: SettingsInput): () => void {
  const copy = { ...settings };
  published.set(id, copy);
  return () => {
    if (published.get(id) === copy) published.delete(id);
  };
}

/** The settings of the deployed mia-battle-navale node `id`, or undefined when none is deployed with that id. */
export function battleNavaleSettings(id: string): SettingsInput | undefined {
  const s = published.get(id);
  return s ? { ...s } : undefined;
}
