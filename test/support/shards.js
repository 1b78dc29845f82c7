'use strict';
// Wait-bound suites split into several mocha processes that run side by side (test/support/run-suites.js; the node
// tests inside compat, test/tools/compat-node-red-5.js). Their tests wait on IBKR's one-live-orders-read-per-5-s rule,
// real sockets and timers, not on the CPU, so a few at once take hardly more CPU than one after the other.
//
// Each named shard is a list of files; the last shard of a suite runs every other file of its glob (the named ones
// ignored), so a new test file always runs somewhere. Files are grouped so that the shards take about as long.

/** mocha arguments for each shard of `glob`: the named groups, then the rest (less `ignored`, run elsewhere). */
function shardArgs(glob, groups, ignored = []) {
  const named = [...groups.flat(), ...ignored];
  return [...groups.map((files) => [...files]), [glob, ...named.flatMap((f) => ['--ignore', f])]];
}

const SHARDS = {
  security: shardArgs('test/security/**/*.test.ts', [
    ['test/security/ibkr-order-state.test.ts'],
    ['test/security/ibkr-order-adversary.test.ts', 'test/security/ibkr-kill-fast.test.ts'],
  ]),
  node: shardArgs('test/node/**/*.test.ts', [
    ['test/node/ibkr-order.test.ts'],
    [
      'test/node/ibkr-order-account.test.ts',
      'test/node/ibkr-order-partial-fills.test.ts',
      'test/node/ibkr-order-stop-entries.test.ts',
      'test/node/order-nodes-same-input.test.ts',
      'test/node/ibkr-account.test.ts',
    ],
  ]),
};

// The strategy-statistics test replays a simulator day as fast as the CPU allows, with its own Node-RED and browser:
// its own shard, which run-suites.js starts after the other CPU-bound suites.
const [statistics, e2eRest] = shardArgs('test/e2e/**/*.test.ts', [['test/e2e/statistics.test.ts']], ['test/e2e/crash.test.ts']);
SHARDS.e2e = [e2eRest, statistics];

// A live run of the shipped flow at 300x recorded and replayed: its live reference must keep pace with the simulated
// market, so it runs in the CPU-bound pool, last (beside at most one other CPU-bound suite), not in a wait lane beside
// two of them: there, at about three busy processes on two cores, the live run's order flow differed from its replay.
const [replayOfLive, flowRest] = shardArgs('test/flow/**/*.test.ts', [['test/flow/replay-of-live.test.ts']]);
SHARDS.flow = { rest: flowRest, replayOfLive };

module.exports = { SHARDS, shardArgs };
