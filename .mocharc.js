'use strict';
// One mocha configuration for every suite. Tests are TypeScript, loaded through tsx (no build needed);
// the e2e suite builds and starts the real Node-RED itself.
module.exports = {
  require: ['tsx/cjs', 'test/support/hooks.ts'],
  spec: ['test/unit/**/*.test.ts', 'test/node/**/*.test.ts', 'test/flow/**/*.test.ts', 'test/e2e/**/*.test.ts'],
  extension: ['ts'],
  reporter: 'test/support/reporter.js',
  timeout: 20000,
  slow: 2000,
  exit: true,
};
