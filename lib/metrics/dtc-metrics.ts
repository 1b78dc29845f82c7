// The figures of one Sierra Chart DTC connection (sierra-order's 'metrics' message): how long the logon has held,
// order round trip (submit → Sierra's first answer for that order), heartbeats missed, reconnects. Pure: every time
// is passed in.

import { LatencyWindow, type LatencySummary } from './latency-window';
import { UptimeClock } from './uptime';

export interface DtcMetricsPayload {
  t: number;
  state: string;
  /** ms since the last logon; 0 while not logged on. */
  uptimeMs: number;
  /** Orders sent, and how many of them Sierra has answered. */
  orders: { sent: number; acknowledged: number; pending: number };
  /** Submit → first order update from Sierra (accepted, working, rejected or filled), ms. */
  roundTripMs: LatencySummary;
  /** Heartbeat intervals that passed without a word from Sierra (DTC §4.3). */
  heartbeatsMissed: number;
  reconnects: number;
}

/** Orders not answered within this are dropped from the pending list (they stay counted as sent). */
const PENDING_LIMIT = 10_000;

export class DtcMetrics {
  private readonly link = new UptimeClock();
  private readonly roundTrip = new LatencyWindow(1024);
  private readonly pending = new Map<string, number>();
  private state = 'starting';
  private sent = 0;
  private acknowledged = 0;
  private missed = 0;
  private lastHeardAt: number | null = null;

  /** The DTC heartbeat interval agreed at logon (HeartbeatIntervalInSeconds), ms. */
  heartbeatMs: number;

  constructor(heartbeatMs = 10_000) {
    this.heartbeatMs = heartbeatMs;
  }

  stateChanged(state: string): void {
    this.state = state;
  }

  loggedOn(at: number): void {
    this.link.up(at);
    this.lastHeardAt = at;
  }

  /**
   * The logon was lost at `at`. `silence`: the heartbeat watchdog gave up on a silent Sierra, so at least one of its
   * heartbeats went missing, whatever the clock readings say (the watchdog fires just past its bound: the gap it saw
   * and the one measured here may straddle a whole interval by a millisecond).
   */
  lost(at: number, silence = false): void {
    if (this.link.isUp && this.lastHeardAt !== null) {
      const gapMissed = Math.floor((at - this.lastHeardAt) / this.heartbeatMs) - 1;
      this.missed += Math.max(silence ? 1 : 0, gapMissed);
    }
    this.link.down();
    this.lastHeardAt = null;
  }

  /** Any message from Sierra: a gap longer than two intervals means heartbeats went missing on the way. */
  heard(at: number): void {
    if (this.lastHeardAt !== null) this.missed += Math.max(0, Math.floor((at - this.lastHeardAt) / this.heartbeatMs) - 1);
    this.lastHeardAt = at;
  }

  orderSent(clientOrderId: string, at: number): void {
    this.sent += 1;
    if (this.pending.size >= PENDING_LIMIT) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(clientOrderId, at);
  }

  /**
   * An order update as the order manager reports it: 'pending' is our own note that the order left (a modify leaves
   * again), anything else is Sierra's answer.
   */
  orderUpdate(clientOrderId: string, status: string, at: number): void {
    if (status === 'pending') {
      if (!this.pending.has(clientOrderId)) this.orderSent(clientOrderId, at);
    } else {
      this.orderAnswered(clientOrderId, at);
    }
  }

  /** Sierra's first answer for an order we sent; later updates of the same order are ignored. */
  orderAnswered(clientOrderId: string, at: number): void {
    const sentAt = this.pending.get(clientOrderId);
    if (sentAt === undefined) return;
    this.pending.delete(clientOrderId);
    this.acknowledged += 1;
    this.roundTrip.record(Math.max(0, at - sentAt));
  }

  snapshot(now: number): DtcMetricsPayload {
    return {
      t: now,
      state: this.state,
      uptimeMs: this.link.uptimeMs(now),
      orders: { sent: this.sent, acknowledged: this.acknowledged, pending: this.pending.size },
      roundTripMs: this.roundTrip.summary(),
      heartbeatsMissed: this.missed,
      reconnects: this.link.reconnects,
    };
  }
}
