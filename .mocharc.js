'use strict';
// One mocha configuration for every suite. Tests are TypeScript, loaded through tsx (no build needed);
// the e2e suite builds and starts the real Node-RED itself. The suites to run are named in package.json's
// scripts, so `npx mocha <file>` runs just that file.
module.exports = {
  require: ['tsx/cjs', 'test/support/hooks.ts'],
  extension: ['ts'],
  reporter: 'test/support/reporter.js',
  timeout: 20000,
  slow: 2000,
  exit: true,
};
