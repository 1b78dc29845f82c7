// The trading-hours window (default 09:35–15:45 America/New_York, Monday to Friday), shared by the signal's veto and
// the risk guard. The day's open and close instants are computed once per New York day (Intl is slow), so the
// per-bar check is two comparisons. Exchange holidays are not known here: on a holiday no bars arrive anyway.
import { NEW_YORK, zonedParts, zonedTime } from '../clock';

export class TradingHours {
  private dayStart = Infinity;
  private dayEnd = -Infinity;
  private open = 0;
  private close = 0;

  /** `startMin`/`endMin`: minutes since midnight in `timeZone`; the window is [start, end). */
  constructor(
    readonly startMin: number,
    readonly endMin: number,
    readonly timeZone: string = NEW_YORK,
  ) {}

  /** True when `now` (epoch ms) is a weekday between the start (included) and the end (excluded). */
  isOpen(now: number): boolean {
    if (now < this.dayStart || now >= this.dayEnd) this.loadDay(now);
    return now >= this.open && now < this.close;
  }

  private loadDay(now: number): void {
    const p = zonedParts(now, this.timeZone);
    this.dayStart = zonedTime(this.timeZone, p.year, p.month, p.day);
    this.dayEnd = zonedTime(this.timeZone, p.year, p.month, p.day + 1);
    const weekday = p.weekday >= 1 && p.weekday <= 5;
    this.open = weekday ? zonedTime(this.timeZone, p.year, p.month, p.day, Math.floor(this.startMin / 60), this.startMin % 60) : 0;
    this.close = weekday ? zonedTime(this.timeZone, p.year, p.month, p.day, Math.floor(this.endMin / 60), this.endMin % 60) : 0;
  }

  /** "09:35–15:45 New York" for messages. */
  describe(): string {
    const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const zone = this.timeZone === NEW_YORK ? 'New York' : this.timeZone;
    return `${hhmm(this.startMin)}–${hhmm(this.endMin)} ${zone}`;
  }
}
