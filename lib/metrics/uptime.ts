// How long something has been up (a session authenticated, a stream open, a DTC logon) and how often it came back.

export class UptimeClock {
  private since: number | null = null;
  private everUp = false;
  private reconnectCount = 0;

  /** Marks it up at `at`; a return after it had been down counts as a reconnect. Repeated calls keep the first time. */
  up(at: number): void {
    if (this.since !== null) return;
    if (this.everUp) this.reconnectCount += 1;
    this.everUp = true;
    this.since = at;
  }

  down(): void {
    this.since = null;
  }

  set(isUp: boolean, at: number): void {
    if (isUp) this.up(at);
    else this.down();
  }

  get isUp(): boolean {
    return this.since !== null;
  }

  /** Times it came back after having been up once. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** ms since it last came up; 0 while down. */
  uptimeMs(now: number): number {
    return this.since === null ? 0 : Math.max(0, now - this.since);
  }
}
