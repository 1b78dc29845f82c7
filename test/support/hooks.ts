// Global test hooks: an unhandled rejection anywhere fails the run instead of being lost.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(`unhandled rejection: ${String(reason)}`);
});

// Every test starts with no trading account known: the risk engines (lib/trading/accounts.ts) live for the process,
// as they must across a redeploy, so one test's kill switch or exposure would otherwise meet the next test.
const { resetAccountsForTest } = require('../../lib/trading/accounts') as typeof import('../../lib/trading/accounts');
exports.mochaHooks = { afterEach: (): void => resetAccountsForTest() };
