// The one place secrets are scrubbed before any text leaves the library (error messages, debug traces, logs).
// IBKR secrets travel in headers (Authorization, Cookie), in query strings (oauth_token on the WebSocket URL) and
// in form bodies (client_secret|client_id|consumer_key|credential, client_assertion); every one of them is replaced by "[redacted]".

const SECRET_KEY = /(authorization|cookie|set-cookie|token|secret|signature|assertion|password|session|private|lst|challenge|client_?id|consumer_?key|credential)/i;

/** Replaces secret values in a header map, a query string, a form body or free text; returns a new value. */
export function redact<T>(value: T): T {
  return redactValue(value, 0) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 6) return '[…]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEY.test(k) ? '[redacted]' : redactValue(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** Scrubs `key=value` pairs (query strings, OAuth headers, form bodies), bearer tokens and PEM blocks in text. */
export function redactText(text: string): string {
  return text
    .replace(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g, '[redacted key]')
    .replace(/\b(cookie|set-cookie)\s*:\s*[^\r\n"]*/gi, '$1: [redacted]')
    .replace(/\bapi=[^\s;&,"]+/g, 'api=[redacted]')
    .replace(/\b(Bearer|OAuth)\s+[^\s,]+(\s*,\s*[a-z_]+="[^"]*")*/gi, '$1 [redacted]')
    .replace(/([?&\s,;{"]|^)([A-Za-z_]*?(?:token|secret|signature|assertion|password|session|challenge|client_?id|consumer_?key|credential)[A-Za-z_]*)(["']?\s*[=:]\s*["']?)([^&\s,;"'}]+)/gi,
      (_m, pre: string, key: string, sep: string) => `${pre}${key}${sep}[redacted]`);
}
