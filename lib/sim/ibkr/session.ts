// The Gateway session as the simulator models it (ibkr-web-api.md §1a): the user has logged in through the browser;
// the brokerage (/iserver) session is authenticated until it idles out (no request for sessionIdleMs), is reset
// nightly, is taken by a competing session, or the user logs out. /iserver/accounts primes it; a reset loses that.
import { EventEmitter } from 'events';
import { randomBytes } from 'crypto';

export type SessionLoss = 'idle' | 'nightly-reset' | 'logout' | 'competing';

export class GatewaySession extends EventEmitter {
  sessionId = randomBytes(16).toString('hex');
  readonly userId = 73914260;
  readonly username = 'simpaper1';
  loggedIn = true;
  authenticated = true;
  competing = false;
  primed = false;
  portfolioPrimed = false;
  private lastRequestAt: number;

  constructor(
    private readonly idleMs: number,
    /** The clock of idleness (the wall clock unless a test injects one); not the simulated market's. */
    readonly clock: () => number,
  ) {
    super();
    this.lastRequestAt = clock();
  }

  /** Expires the session if it has been idle too long; call before counting a new request. */
  checkIdle(now: number): void {
    if (this.loggedIn && this.authenticated && now - this.lastRequestAt > this.idleMs) this.lose('idle');
  }

  touch(now: number): void {
    this.lastRequestAt = now;
  }

  /** The brokerage session goes: authentication and priming are lost; 'lost' tells sockets to drop. */
  lose(why: SessionLoss): void {
    const wasAuthenticated = this.authenticated;
    this.authenticated = false;
    this.primed = false;
    if (why === 'competing') this.competing = true;
    if (why === 'logout') {
      this.loggedIn = false;
      this.portfolioPrimed = false;
    }
    if (wasAuthenticated || why === 'logout') this.emit('lost', why);
  }

  /** POST /iserver/auth/ssodh/init or /iserver/reauthenticate: the brokerage session opens again. */
  authenticate(now: number): void {
    if (!this.loggedIn) return;
    this.authenticated = true;
    this.competing = false;
    this.lastRequestAt = now;
    this.emit('authenticated');
  }

  /** The user logs in through the browser again (a new session id, as after a real login). */
  login(now: number): void {
    this.sessionId = randomBytes(16).toString('hex');
    this.loggedIn = true;
    this.authenticate(now);
  }

  statusBody(): Record<string, unknown> {
    return {
      authenticated: this.authenticated,
      competing: this.competing,
      connected: this.loggedIn,
      message: '',
      MAC: '98:F2:B3:23:BF:A0',
      serverInfo: { serverName: 'JifN19053', serverVersion: 'Build 10.25.0p, Dec 5, 2023 5:48:12 PM' },
      fail: '',
    };
  }
}
