// The trade table as CSV (RFC 4180: comma, CRLF, quotes doubled), one row per closed trade, times in ISO 8601 UTC.
// A text cell starting with = + - @ gets a leading ' so a spreadsheet does not run it as a formula.
import type { TradeRecord } from './trades';

export const CSV_COLUMNS = [
  'id',
  'side',
  'quantity',
  'entryTime',
  'entryPrice',
  'exitTime',
  'exitPrice',
  'pointValue',
  'points',
  'pnl',
  'stop',
  'r',
  'reason',
  'day',
] as const;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = String(value);
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function tradesToCsv(trades: readonly TradeRecord[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const t of trades) {
    const row: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      ...t,
      entryTime: new Date(t.entryTime).toISOString(),
      exitTime: new Date(t.exitTime).toISOString(),
    };
    rows.push(CSV_COLUMNS.map((c) => cell(row[c])).join(','));
  }
  return rows.join('\r\n') + '\r\n';
}
