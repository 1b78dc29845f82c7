// The IBKR metrics against known traffic on the in-process simulator: request counts equal what the simulator
// received, a known artificial history latency shows in p99, injected 429s show in the 429 count and the error rate,
// last-data age is fresh while streaming and grows after stopping, and uptimes restart after forced reconnects.
import { strict as assert } from 'assert';
import { IbkrLink, type IbkrStateEvent } from '../../../lib/ibkr/link';
import { planConnection } from '../../../nodes/ibkr-config/settings';

const HISTORY_LATENCY_MS = 60;

interface Lines {
  info: string[];
  debug: string[];
  trace: string[];
  warn: string[];
}

function openLink(traceRequests = false): { link: IbkrLink; lines: Lines } {
  const plan = planConnection({ mode: 'simulator', simSeed: 3, simTls: true, traceRequests });
  plan.simulator = { ...plan.simulator, historyLatencyMs: HISTORY_LATENCY_MS };
  const lines: Lines = { info: [], debug: [], trace: [], warn: [] };
  const logger = {
    trace: (m: string) => lines.trace.push(m),
    debug: (m: string) => lines.debug.push(m),
    info: (m: string) => lines.info.push(m),
    warn: (m: string) => lines.warn.push(m),
    error: (m: string) => lines.warn.push(m),
  };
  return { link: new IbkrLink(plan, { logger, tickleIntervalMs: 200 }), lines };
}

function nextState(link: IbkrLink, state: string, timeoutMs = 8000): Promise<IbkrStateEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${state}" state within ${timeoutMs} ms (now ${link.state})`)), timeoutMs);
    const on = (e: IbkrStateEvent): void => {
      if (e.state !== state) return;
      clearTimeout(timer);
      link.off('state', on);
      resolve(e);
    };
    link.on('state', on);
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

describe('IBKR metrics on the simulator', function () {
  this.timeout(20_000);
  let link: IbkrLink;
  let lines: Lines;

  afterEach(async () => {
    await link?.close();
  });

  it('counts every request the simulator received and shows its history latency in p99', async () => {
    ({ link, lines } = openLink());
    await link.open();
    await link.settled();
    const sim = link.simulator!;
    const client = link.connection().client;
    const conid = sim.market.esContracts()[0]!.conid;
    for (let i = 0; i < 4; i++) await client.history({ conid, bar: '5min', period: '1d' });
    const m = link.metrics();
    assert.equal(m.requests, sim.control.stats().total, 'one figure per HTTP exchange, as IBKR counts them');
    assert.ok(m.latencyMs.p99 !== null && m.latencyMs.p99 >= HISTORY_LATENCY_MS - 1, `p99 ${m.latencyMs.p99} ms covers the ${HISTORY_LATENCY_MS} ms history answers`);
    assert.equal(m.errors.errors, 0);
    assert.equal(m.session.state, 'authenticated');
    assert.ok(m.session.uptimeMs > 0);
    assert.equal(m.utilisation.global, Math.round((m.requests / 600) * 1000) / 1000, 'requests of the last minute ÷ 600');
    assert.ok(m.utilisation.families.history! > 0);
    assert.ok(m.accountId);
    assert.ok(lines.info.some((l) => l.startsWith('IBKR connected (simulator, account ')), 'the connection is logged with its account');
  });

  it('shows injected 429s in the 429 count and the error rate, and logs the pause', async () => {
    ({ link, lines } = openLink());
    await link.open();
    await link.settled();
    const sim = link.simulator!;
    sim.control.inject429(1);
    await link.connection().client.accounts(); // answered after the pause
    const m = link.metrics();
    assert.equal(m.http429, 1);
    assert.equal(m.errors.errors, 1);
    assert.equal(m.errors.rate, Math.round((1 / m.errors.requests) * 1000) / 1000);
    assert.ok(lines.warn.some((l) => /rate-limited/.test(l)), 'the rate-limit pause is logged as a warning');
  });

  it('keeps the last data age fresh while streaming and lets it grow after stopping; a dropped socket restarts the stream uptime', async () => {
    ({ link, lines } = openLink());
    await link.open();
    await link.settled();
    const sim = link.simulator!;
    const stream = link.stream();
    const conid = sim.market.esContracts()[0]!.conid;
    const agesInListener: number[] = [];
    const handle = stream.subscribeMarketData(conid, ['31', '84', '86'], () => {
      agesInListener.push(link.metrics().stream.lastDataAgeMs ?? -1);
    });
    await until(() => agesInListener.length >= 3, 'three market-data messages');
    assert.ok(agesInListener.every((age) => age >= 0 && age < 50), `age is ~0 as data arrives: ${agesInListener.join(',')}`);
    assert.equal(lines.info.filter((l) => l === `IBKR market data flowing for contract ${conid}`).length, 1, 'first data at info, once');
    assert.ok(lines.trace.length >= 2, 'the rest at trace');

    const before = link.metrics().stream;
    assert.equal(before.state, 'open');
    sim.control.dropWebSockets();
    await until(() => link.metrics().stream.reconnects === 1 && link.metrics().stream.state === 'open', 'the stream to reconnect');
    const after = link.metrics().stream;
    assert.ok(after.uptimeMs < before.uptimeMs + 100, `uptime restarted (${before.uptimeMs} → ${after.uptimeMs} ms)`);
    assert.equal(link.metrics().reconnects, 1);
    assert.ok(lines.info.some((l) => l.startsWith('IBKR stream back after')), 'the reconnect is logged');

    handle.unsubscribe();
    // Frames already on the wire may still land (later on a busy machine): once data has stopped, the age grows past
    // 400 ms and keeps growing; data still flowing would reset it and this wait would time out.
    await until(() => link.metrics().stream.lastDataAgeMs! >= 400, 'no data after stopping: the age grows');
    const stoppedAge = link.metrics().stream.lastDataAgeMs!;
    await delay(200);
    assert.ok(link.metrics().stream.lastDataAgeMs! >= stoppedAge + 200, 'the age keeps growing');
  });

  it('restarts the session uptime after an expiry and a new login', async () => {
    ({ link, lines } = openLink());
    await link.open();
    await link.settled();
    await delay(50);
    const sim = link.simulator!;
    const lost = nextState(link, 'expired');
    sim.control.expireSession();
    await lost;
    assert.equal(link.metrics().session.uptimeMs, 0);
    await link.command('login');
    await until(() => link.state === 'authenticated', 'authenticated again');
    const m = link.metrics();
    assert.equal(m.session.reconnects, 1);
    assert.ok(m.session.uptimeMs < 1000);
  });

  it('traces requests and answers at debug level, with no session cookie or token in any line', async () => {
    ({ link, lines } = openLink(true));
    await link.open();
    await link.settled();
    await link.connection().client.accounts();
    assert.ok(lines.debug.some((l) => /^IBKR → GET \S+\/iserver\/accounts/.test(l)));
    assert.ok(lines.debug.some((l) => /^IBKR ← 200 GET \S+\/iserver\/accounts \(\d+ ms\)/.test(l)));
    const session = link.simulator!.control.sessionId;
    const all = [...lines.debug, ...lines.info, ...lines.warn, ...lines.trace].join('\n');
    assert.ok(!all.includes(session), 'the session id never reaches the log');
  });
});
