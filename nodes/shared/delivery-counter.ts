// Messages on their way between nodes, counted with Node-RED's message hooks (postDeliver: dispatched; onReceive:
// handed to its node). whenIdle(cb) calls cb on the first turn of the event loop with none on its way, i.e. once what
// a message caused has gone through the synchronous nodes after it. A replay at 'max' uses it to let a preload of
// history through the flow before its next tick (nodes/ibkr-config). Counting is on only while someone may wait.
import type { NodeAPI } from 'node-red';

export class DeliveryCounter {
  private inFlight = 0;
  private active = false;
  private waiters: (() => void)[] = [];
  private checking = false;
  private readonly label: string;

  constructor(
    private readonly RED: NodeAPI,
    id: string,
    on: boolean,
  ) {
    this.label = `miaDeliveries${id.replace(/[^A-Za-z0-9]/g, '')}`;
    // Node-RED gives nodes its hooks since 2.0; without them nothing is counted and whenIdle does not wait.
    if (!on || typeof (RED as Partial<NodeAPI>).hooks?.add !== 'function') return;
    // With synchronous delivery (runtimeSyncDelivery) onReceive comes before postDeliver: the count dips below 0 for
    // a moment and comes back, so it is never clamped. The handlers take exactly one parameter: Node-RED calls a
    // handler of any other arity with a callback to call, and holds the message until it is called.
    RED.hooks.add(`postDeliver.${this.label}`, (_event: unknown) => {
      this.inFlight++;
    });
    RED.hooks.add(`onReceive.${this.label}`, (_event: unknown) => {
      this.inFlight--;
    });
    this.active = true;
  }

  whenIdle(cb: () => void): void {
    if (!this.active) {
      cb();
      return;
    }
    this.waiters.push(cb);
    this.check();
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.RED.hooks.remove(`*.${this.label}`);
    const waiters = this.waiters;
    this.waiters = [];
    for (const cb of waiters) cb();
  }

  private check(): void {
    if (this.checking) return;
    this.checking = true;
    setImmediate(() => {
      this.checking = false;
      if (!this.active) return;
      if (this.inFlight > 0) {
        this.check();
        return;
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const cb of waiters) cb();
    });
  }
}
