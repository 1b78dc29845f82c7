// Global test hooks: an unhandled rejection anywhere fails the run instead of being lost.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(`unhandled rejection: ${String(reason)}`);
});

// Every simulated market in the tests (and in the Node-RED processes they start) opens on this known day, so no test
// depends on today's date; a test about another day passes its own startTime.
process.env.MIA_SIM_DATE ??= '2026-03-03';

// Every test starts with no trading account known: the risk engines (lib/trading/accounts.ts) live for the process,
// as they must across a redeploy, so one test's kill switch or exposure would otherwise meet the next test.
const { resetAccountsForTest } = require('../../lib/trading/accounts') as typeof import('../../lib/trading/accounts');
// Every test's waits on real work are bounded by what is left of its own timeout (test/support/budget.ts).
const { startTestBudget } = require('./budget') as typeof import('./budget');
exports.mochaHooks = {
  beforeEach(this: Mocha.Context): void {
    startTestBudget(this.currentTest);
  },
  afterEach: (): void => resetAccountsForTest(),
};
