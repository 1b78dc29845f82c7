// The real node-red binary starts with this package installed and loads every node type package.json declares.
import assert from 'assert';
import { startNodeRed, type RunningNodeRed } from './support/node-red';
import { buildOnce, declaredNodes, isBuilt, packageName } from './support/package-under-test';

interface NodeSet {
  module: string;
  types: string[];
  enabled: boolean;
  err?: unknown;
}

describe('e2e: the real node-red runtime', function () {
  this.timeout(90000);
  let nodeRed: RunningNodeRed;
  let nodeSets: NodeSet[];

  before(async function () {
    buildOnce();
    nodeRed = await startNodeRed();
    nodeSets = await nodeRed.getJson<NodeSet[]>('/nodes');
  });

  after(async () => {
    await nodeRed?.stop();
  });

  it('starts on Node 20 with this package and Dashboard 2.0 in its palette', () => {
    const modules = new Set(nodeSets.map((set) => set.module));
    assert.ok(modules.has(packageName), `GET /nodes does not list ${packageName}:\n${nodeRed.output()}`);
    assert.ok(modules.has('@flowfuse/node-red-dashboard'), 'GET /nodes does not list @flowfuse/node-red-dashboard');
  });

  for (const { type, entry } of declaredNodes) {
    it(`loads ${type} with no load error`, function () {
      if (!isBuilt(type)) this.skip(); // waits for nodes/<type>/ (not written yet)
      const set = nodeSets.find((s) => s.module === packageName && s.types.includes(type));
      const failed = nodeSets.find((s) => s.module === packageName && s.err && String(s.err).includes(entry.replace(/^dist\//, '')));
      assert.ok(set, `GET /nodes does not list ${type}${failed ? `: ${String(failed.err)}` : ''}`);
      assert.strictEqual(set.err, undefined, `${type} failed to load: ${String(set.err)}`);
      assert.strictEqual(set.enabled, true, `${type} is disabled`);
    });
  }
});
