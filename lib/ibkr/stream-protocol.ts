// The IBKR WebSocket wire format, both ways (ibkr-web-api.md, section 4): the text commands the client sends
// (`TOPIC+TARGET+{json}`, `s` subscribes, `u` unsubscribes) and a typed reading of every frame the server sends.
// Pure: no socket, no timers.

/** Client keep-alive; IBKR wants one at least once a minute. */
export const TIC = 'tic';

export function subscribeMarketDataCommand(target: string, fields: readonly string[]): string {
  return `smd+${target}+${JSON.stringify({ fields })}`;
}

export function unsubscribeMarketDataCommand(target: string): string {
  return `umd+${target}+{}`;
}

export const SUBSCRIBE_ORDERS = 'sor+{}';
export const UNSUBSCRIBE_ORDERS = 'uor+{}';
export const SUBSCRIBE_PNL = 'spl+{}';
export const UNSUBSCRIBE_PNL = 'upl+{}';

/** The [OLD] documented way to authenticate a socket: the /tickle session sent as the first message. */
export function sessionMessage(session: string): string {
  return JSON.stringify({ session });
}

/**
 * The /tickle session id carried by a Cookie header: `api={"session":"<id>"}` or `api=<id>` ([CP] shows both).
 * Returns undefined when the header carries none.
 */
export function sessionFromCookie(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== 'api') continue;
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // not percent-encoded: use as is
    }
    if (value.startsWith('{')) {
      try {
        const parsed = JSON.parse(value) as { session?: unknown };
        return typeof parsed.session === 'string' && parsed.session ? parsed.session : undefined;
      } catch {
        return undefined;
      }
    }
    return value || undefined;
  }
  return undefined;
}

/** One server frame, read. `raw` is the parsed JSON object for the kinds that carry data. */
export type ServerFrame =
  | { kind: 'heartbeat'; serverTime: number }
  | { kind: 'connected'; user: string }
  | { kind: 'waiting-session' }
  | { kind: 'status'; authenticated: boolean; competing: boolean; message: string }
  | { kind: 'market-data'; target: string; raw: Readonly<Record<string, unknown>> }
  | { kind: 'orders'; orders: readonly unknown[] }
  | { kind: 'pnl'; pnl: Readonly<Record<string, unknown>> }
  | { kind: 'error'; text: string; raw: Readonly<Record<string, unknown>> }
  | { kind: 'other'; topic: string; raw: Readonly<Record<string, unknown>> }
  | { kind: 'unreadable'; text: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads one text frame. Never throws: anything unexpected comes back as 'other' or 'unreadable'. */
export function readServerFrame(text: string): ServerFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', text: text.length > 120 ? `${text.slice(0, 117)}...` : text };
  }
  if (!isRecord(parsed)) return { kind: 'unreadable', text: text.length > 120 ? `${text.slice(0, 117)}...` : text };
  const topic = typeof parsed.topic === 'string' ? parsed.topic : '';

  if (topic === 'system') {
    if (parsed.hb !== undefined) return { kind: 'heartbeat', serverTime: Number(parsed.hb) };
    if (parsed.success !== undefined) return { kind: 'connected', user: String(parsed.success) };
    return { kind: 'other', topic, raw: parsed };
  }
  if (typeof parsed.message === 'string' && parsed.message.toLowerCase().includes('waiting for session')) {
    return { kind: 'waiting-session' };
  }
  if (topic === 'sts') {
    const args = isRecord(parsed.args) ? parsed.args : {};
    if (typeof args.authenticated === 'boolean') {
      return {
        kind: 'status',
        authenticated: args.authenticated,
        competing: args.competing === true,
        message: typeof args.message === 'string' ? args.message : '',
      };
    }
    return { kind: 'other', topic, raw: parsed };
  }
  if (topic.startsWith('smd+')) return { kind: 'market-data', target: topic.slice(4), raw: parsed };
  if (topic === 'sor') return { kind: 'orders', orders: Array.isArray(parsed.args) ? parsed.args : [] };
  if (topic === 'spl') return { kind: 'pnl', pnl: isRecord(parsed.args) ? parsed.args : {} };
  if (topic === 'error' || (topic === '' && parsed.error !== undefined)) {
    const said = parsed.error ?? parsed.message ?? parsed.args;
    return { kind: 'error', text: typeof said === 'string' ? said : JSON.stringify(said ?? parsed), raw: parsed };
  }
  return { kind: 'other', topic, raw: parsed };
}
