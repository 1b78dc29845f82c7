'use strict';
// Loaded with `mocha --require` by test/tools/compat-node-red-5.js: makes the node tests, unchanged, run on another
// Node-RED. Their `helper.init(require.resolve('node-red'))` and `import helper from 'node-red-node-test-helper'`
// resolve from COMPAT_NODE_RED_DIR (a node_modules folder holding node-red 5 and the helper) instead of the
// repository's node-red 4.1. Everything else still resolves from the repository.
const Module = require('module');
const path = require('path');

const dir = process.env.COMPAT_NODE_RED_DIR;
if (!dir) throw new Error('test/compat/use-node-red-5.cjs: set COMPAT_NODE_RED_DIR to the node_modules folder holding node-red 5');

const redirected = /^(node-red|node-red-node-test-helper|@node-red\/[^/]+)(\/.*)?$/;
const original = Module._resolveFilename;
let announced = false;

Module._resolveFilename = function resolveFromCompatDir(request, parent, ...rest) {
  const fromCompat = parent && parent.filename && parent.filename.startsWith(dir);
  if (!fromCompat && redirected.test(request)) {
    const resolved = original.call(this, request, { ...parent, paths: [dir], filename: path.join(dir, 'index.js') }, ...rest);
    if (!announced && /^node-red(\/|$)/.test(request)) {
      announced = true;
      // test/tools/compat-node-red-5.js checks this line: proof that the tests ran on the intended Node-RED.
      process.stderr.write(`[compat] node-red ${require(path.join(dir, 'node-red', 'package.json')).version} on Node ${process.version}\n`);
    }
    return resolved;
  }
  return original.call(this, request, parent, ...rest);
};
