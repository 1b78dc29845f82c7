// The IBKR metrics against known traffic on the in-process simulator: request counts equal what the simulator
// received, a known artificial history latency shows in p99, injected 429s show in the 429 count and the error rate,
// last-data age is fresh while streaming and grows after stopping, and uptimes restart after forced reconnects.
// Ages and uptimes are read on a virtual clock (IbkrLink's `now`) that moves only when the test moves it: the
// simulator, the sockets and the session run in real time, and the tests wait for their events, never for a duration.
import { strict as assert } from 'assert';
import { IbkrLink, type IbkrStateEvent } from '../../../lib/ibkr/link';
import { planConnection } from '../../../nodes/ibkr-config/settings';
import { testTimeLeft } from '../../support/budget';

const HISTORY_LATENCY_MS = 60;

interface Lines {
  info: string[];
  debug: string[];
  trace: string[];
  warn: string[];
}

/** The metrics' clock in the tests that read ages and uptimes: it stands still unless advanced. */
class VirtualNow {
  t = Date.UTC(2026, 2, 3, 15);
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

function openLink(traceRequests = false, now?: () => number): { link: IbkrLink; lines: Lines } {
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
  return { link: new IbkrLink(plan, { logger, tickleIntervalMs: 200, ...(now ? { now } : {}) }), lines };
}

function nextState(link: IbkrLink, state: string, timeoutMs = testTimeLeft()): Promise<IbkrStateEvent> {
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

async function until(check: () => boolean, what: string, timeoutMs = testTimeLeft()): Promise<void> {
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
    const clock = new VirtualNow();
    ({ link, lines } = openLink(false, clock.now));
    await link.open();
    await link.settled();
    const sim = link.simulator!;
    const stream = link.stream();
    const conid = sim.market.esContracts()[0]!.conid;
    // Each of the first three updates comes 1 s (virtual) after the previous one: its age is 0 as it arrives, and
    // 1000 just before the next one.
    const agesOnArrival: number[] = [];
    const agesBeforeNext: number[] = [];
    const handle = stream.subscribeMarketData(conid, ['31', '84', '86'], () => {
      if (agesOnArrival.length >= 3) return;
      agesOnArrival.push(link.metrics().stream.lastDataAgeMs ?? -1);
      clock.advance(1000);
      agesBeforeNext.push(link.metrics().stream.lastDataAgeMs ?? -1);
    });
    await until(() => agesOnArrival.length >= 3, 'three market-data messages');
    assert.deepEqual(agesOnArrival, [0, 0, 0], 'the age is 0 as each update arrives');
    assert.deepEqual(agesBeforeNext, [1000, 1000, 1000], 'and grows with the clock until the next one');
    assert.equal(lines.info.filter((l) => l === `IBKR market data flowing for contract ${conid}`).length, 1, 'first data at info, once');
    assert.ok(lines.trace.length >= 2, 'the rest at trace');

    clock.advance(10_000);
    const before = link.metrics().stream;
    assert.equal(before.state, 'open');
    assert.equal(before.uptimeMs, 13_000, 'up since it opened: three updates 1 s apart, then 10 s');
    sim.control.dropWebSockets();
    await until(() => link.metrics().stream.reconnects === 1 && link.metrics().stream.state === 'open', 'the stream to reconnect');
    assert.equal(link.metrics().stream.uptimeMs, 0, 'uptime restarted at the reconnect');
    clock.advance(500);
    assert.equal(link.metrics().stream.uptimeMs, 500, 'and counts from there');
    assert.equal(link.metrics().reconnects, 1);
    assert.ok(lines.info.some((l) => l.startsWith('IBKR stream back after')), 'the reconnect is logged');

    const seen = link.metrics().stream.messages;
    await until(() => link.metrics().stream.messages > seen, 'market data on the new socket');
    assert.equal(link.metrics().stream.lastDataAgeMs, 0, 'data on the new socket resets the age');
    handle.unsubscribe();
    clock.advance(5000);
    assert.equal(link.metrics().stream.lastDataAgeMs, 5000, 'after stopping, the age grows with the time since the last update');
  });

  it('restarts the session uptime after an expiry and a new login', async () => {
    const clock = new VirtualNow();
    ({ link, lines } = openLink(false, clock.now));
    await link.open();
    await link.settled();
    clock.advance(5000);
    assert.equal(link.metrics().session.uptimeMs, 5000, 'up since the login');
    const sim = link.simulator!;
    const lost = nextState(link, 'expired');
    sim.control.expireSession();
    await lost;
    assert.equal(link.metrics().session.uptimeMs, 0);
    clock.advance(2000);
    await link.command('login');
    await until(() => link.state === 'authenticated', 'authenticated again');
    clock.advance(700);
    const m = link.metrics();
    assert.equal(m.session.reconnects, 1);
    assert.equal(m.session.uptimeMs, 700, 'counted from the new login');
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
