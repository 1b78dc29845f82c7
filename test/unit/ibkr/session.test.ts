import assert from 'node:assert/strict';
import { NetworkError, NotAuthenticatedError } from '../../../lib/ibkr/errors';
import { SessionKeeper, type SessionApi, type SessionStateEvent } from '../../../lib/ibkr/session';
import type { AuthStatus, TickleResult } from '../../../lib/ibkr/types';
import { FakeScheduler, flush } from './loopback';

const ok: AuthStatus = { authenticated: true, competing: false, connected: true, message: '', fail: '' };

function fakeApi(overrides: Partial<Record<keyof SessionApi, () => Promise<unknown>>> = {}) {
  const calls: string[] = [];
  const api: SessionApi = {
    authStatus: () => (calls.push('status'), (overrides.authStatus?.() as Promise<AuthStatus>) ?? Promise.resolve(ok)),
    tickle: () => (calls.push('tickle'), (overrides.tickle?.() as Promise<TickleResult>) ?? Promise.resolve({ session: 's1', ssoExpiresMs: null, status: ok, hmdsError: null })),
    ssodhInit: () => (calls.push('ssodh'), (overrides.ssodhInit?.() as Promise<AuthStatus>) ?? Promise.resolve(ok)),
    accounts: () => (calls.push('accounts'), Promise.resolve({ accounts: ['U1'], selectedAccount: 'U1', isPaper: true, aliases: {}, allowCustomerTime: {} })),
  };
  return { api, calls };
}

describe('IBKR session keeper', () => {
  let keeper: SessionKeeper | undefined;
  afterEach(() => keeper?.close());

  it('tickles every 60 s while authenticated and primes accounts once', async () => {
    const scheduler = new FakeScheduler();
    const { api, calls } = fakeApi();
    keeper = new SessionKeeper({ api, scheduler });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    await flush();
    assert.equal(keeper.state, 'authenticated');
    assert.deepEqual(scheduler.delays(), [60_000]);
    await scheduler.advance(5 * 60_000);
    assert.equal(calls.filter((c) => c === 'tickle').length, 5);
    assert.equal(calls.filter((c) => c === 'accounts').length, 1);
    assert.equal(keeper.sessionId, 's1');
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'authenticated']);
  });

  it('opens the brokerage session with ssodh/init when connected but not authenticated', async () => {
    let opened = false;
    const { api, calls } = fakeApi({
      authStatus: async () => (opened ? ok : { ...ok, authenticated: false }),
      ssodhInit: async () => ((opened = true), ok),
    });
    keeper = new SessionKeeper({ api, scheduler: new FakeScheduler() });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    assert.deepEqual(calls.slice(0, 3), ['status', 'ssodh', 'status']);
    assert.equal(keeper.state, 'authenticated');
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'authenticated'], 'opening the session at start is no expiry');
  });

  it('reports an idle expiry found by /tickle as expired, reopens the session, then reports authenticated again', async () => {
    const scheduler = new FakeScheduler();
    let open = true;
    const closed: AuthStatus = { ...ok, authenticated: false };
    const { api, calls } = fakeApi({
      tickle: async () => ({ session: 's1', ssoExpiresMs: null, status: open ? ok : closed, hmdsError: null }),
      authStatus: async () => (open ? ok : closed),
      ssodhInit: async () => ((open = true), ok),
    });
    keeper = new SessionKeeper({ api, scheduler });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    await flush();
    assert.equal(keeper.primings, 1);
    open = false; // IBKR let the brokerage session time out
    await scheduler.advance(60_000);
    await flush();
    assert.deepEqual(states.map((s) => `${s.previous}→${s.state}`), ['disconnected→connecting', 'connecting→authenticated', 'authenticated→expired', 'expired→authenticated']);
    const expired = states[2]!;
    assert.match(expired.reason, /IBKR closed the brokerage session.*idle timeout or its nightly reset.*reopening it/);
    assert.equal(calls.filter((c) => c === 'ssodh').length, 1);
    assert.equal(calls.filter((c) => c === 'accounts').length, 2, 'accounts primed again for the new brokerage session');
    assert.equal(keeper.primings, 2, 'a new priming tells the client that IBKR\'s order feed needs its pre-flight again');
  });

  it('says why when IBKR gives a reason, and is not authenticated again until ssodh/init succeeds', async () => {
    const scheduler = new FakeScheduler();
    let ssodhWorks = false;
    let open = true;
    const { api } = fakeApi({
      authStatus: async () => (open ? ok : { ...ok, authenticated: false, fail: 'session reset' }),
      ssodhInit: async () => {
        if (!ssodhWorks) throw new NetworkError('Cannot reach IBKR (ECONNRESET).');
        open = true;
        return ok;
      },
    });
    keeper = new SessionKeeper({ api, scheduler, retryMs: 5_000 });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    open = false;
    await keeper.check();
    assert.equal(states.at(-2)?.state, 'expired');
    assert.match(states.at(-2)!.reason, /\(session reset\)/);
    assert.equal(keeper.state, 'reconnecting', 'ssodh/init failed: still not back');
    ssodhWorks = true;
    await scheduler.advance(5_000);
    assert.equal(keeper.state, 'authenticated');
    assert.equal(states.at(-1)?.previous, 'expired');
  });

  it('reports a competing login with a reason the trader can act on, and retries', async () => {
    const scheduler = new FakeScheduler();
    let competing = true;
    const { api } = fakeApi({ authStatus: async () => ({ ...ok, competing }) });
    keeper = new SessionKeeper({ api, scheduler, retryMs: 5_000 });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    assert.equal(keeper.state, 'competing');
    assert.match(states.at(-1)!.reason, /Another IBKR login.*TWS/);
    competing = false;
    await scheduler.advance(5_000);
    assert.equal(keeper.state, 'authenticated');
  });

  it('takes the session back when a competing login leaves, without calling that an expiry', async () => {
    const scheduler = new FakeScheduler();
    let status: AuthStatus = { ...ok, authenticated: false, competing: true };
    const { api } = fakeApi({ authStatus: async () => status, ssodhInit: async () => ((status = ok), ok) });
    keeper = new SessionKeeper({ api, scheduler, retryMs: 5_000 });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    status = { ...ok, authenticated: false }; // the other login left; the brokerage session is free but closed
    await scheduler.advance(5_000);
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'competing', 'authenticated']);
  });

  it('recovers from the nightly reset: reconnecting with backoff, then authenticated and primed again', async () => {
    const scheduler = new FakeScheduler();
    let down = false;
    const { api, calls } = fakeApi({
      tickle: async () => {
        if (down) throw new NetworkError('Cannot reach IBKR (ECONNRESET).');
        return { session: 's2', ssoExpiresMs: null, status: ok, hmdsError: null };
      },
      authStatus: async () => {
        if (down) throw new NetworkError('Cannot reach IBKR (ECONNREFUSED).');
        return ok;
      },
    });
    keeper = new SessionKeeper({ api, scheduler, retryMs: 5_000, random: () => 0.5 });
    await keeper.start();
    down = true;
    await scheduler.advance(60_000);
    assert.equal(keeper.state, 'reconnecting');
    assert.deepEqual(scheduler.delays(), [2_500], 'full jitter: uniform in [0, 5 s]');
    await scheduler.advance(2_500);
    assert.deepEqual(scheduler.delays(), [5_000], 'the interval doubles while IBKR is down: uniform in [0, 10 s]');
    down = false;
    await scheduler.advance(5_000);
    assert.equal(keeper.state, 'authenticated');
    assert.equal(calls.filter((c) => c === 'accounts').length, 2, 're-primed after the reset');
  });

  it('after the nightly reset, reports the closed brokerage session as expired before reopening it', async () => {
    const scheduler = new FakeScheduler();
    let phase: 'up' | 'down' | 'closed' = 'up';
    const closed: AuthStatus = { ...ok, authenticated: false };
    const { api } = fakeApi({
      tickle: async () => {
        if (phase === 'down') throw new NetworkError('Cannot reach IBKR (ECONNRESET).');
        return { session: 's1', ssoExpiresMs: null, status: phase === 'up' ? ok : closed, hmdsError: null };
      },
      authStatus: async () => {
        if (phase === 'down') throw new NetworkError('Cannot reach IBKR (ECONNREFUSED).');
        return phase === 'up' ? ok : closed;
      },
      ssodhInit: async () => ((phase = 'up'), ok),
    });
    keeper = new SessionKeeper({ api, scheduler, retryMs: 5_000 });
    const states: SessionStateEvent[] = [];
    keeper.on('state', (e: SessionStateEvent) => states.push(e));
    await keeper.start();
    phase = 'down';
    await scheduler.advance(60_000);
    phase = 'closed'; // IBKR is back, but the brokerage session did not survive the restart
    await scheduler.advance(5_000);
    await flush();
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'authenticated', 'reconnecting', 'expired', 'authenticated']);
    assert.match(states[3]!.reason, /nightly reset/);
  });

  it('renews OAuth credentials when IBKR says the session is gone', async () => {
    const scheduler = new FakeScheduler();
    let valid = false;
    const { api } = fakeApi({
      authStatus: async () => {
        if (!valid) throw new NotAuthenticatedError('IBKR request refused: not authenticated.');
        return ok;
      },
    });
    let renewed = 0;
    keeper = new SessionKeeper({ api, scheduler, canRenew: true, renewCredentials: async () => ((renewed += 1), (valid = true)) as unknown as void, retryMs: 1_000 });
    await keeper.start();
    assert.equal(renewed, 1);
    await scheduler.advance(1_000);
    assert.equal(keeper.state, 'authenticated');
  });

  it('clears every timer on close', async () => {
    const scheduler = new FakeScheduler();
    keeper = new SessionKeeper({ api: fakeApi().api, scheduler });
    await keeper.start();
    await flush();
    keeper.close();
    assert.equal(scheduler.pending, 0);
    assert.equal(keeper.state, 'disconnected');
  });
});
