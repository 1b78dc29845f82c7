// The shipped example as the editor sees it: every node passes the editor's own validators (a deploy shows no "not
// properly configured" warning), and the validators refuse what the runtime would refuse (an empty ibkr-quote
// symbol, a Sierra host that is not a host name or an address, a poll interval outside 1-3600 s).
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { repoRoot } from '../tools/local-node-red';
import { chromiumMissing, openChromium, type OpenChromium } from './support/chromium';
import { openEditor } from './support/editor';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce } from './support/package-under-test';

const pipelineFile = path.join(repoRoot, 'flows', 'mia-ia-pipeline.json');

describe('e2e: the example passes the editor validation, and the validators match the runtime', function () {
  this.timeout(60000);
  let nodeRed: RunningNodeRed;
  let browser: OpenChromium;

  before(async function () {
    this.timeout(120000);
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    buildOnce();
    nodeRed = await startNodeRed(JSON.parse(fs.readFileSync(pipelineFile, 'utf8')) as FlowNode[]);
    browser = await openChromium();
    await openEditor(browser.page, nodeRed.url);
  });

  after(async () => {
    await browser?.close();
    await nodeRed?.stop();
  });

  /** Runs the editor's validateNode on a copy of node `id` with `changes`; returns the properties it flags. */
  function invalidProperties(id: string, changes: Record<string, unknown>): Promise<string[] | null> {
    return browser.page.evaluate(`(() => {
      const original = RED.nodes.node(${JSON.stringify(id)});
      if (!original) return null;
      const copy = Object.assign({}, original, ${JSON.stringify(changes)});
      RED.editor.validateNode(copy);
      return copy.valid ? [] : (copy.validationErrors || []).map(String);
    })()`);
  }

  it('finds every node and config node of the example valid (no "not properly configured" on deploy)', async () => {
    const invalid = await browser.page.evaluate<string[]>(`(() => {
      const bad = [];
      const check = (n) => {
        RED.editor.validateNode(n);
        if (!n.valid) bad.push(n.type + ' ' + n.id + ' ' + JSON.stringify(n.validationErrors));
      };
      RED.nodes.eachNode(check);
      RED.nodes.eachConfig(check);
      return bad;
    })()`);
    assert.deepStrictEqual(invalid, []);
    const count = await browser.page.evaluate<number>(`(() => { let n = 0; RED.nodes.eachNode(() => n++); return n; })()`);
    assert.ok(count > 60, `the editor loaded only ${count} nodes`);
  });

  it('refuses an empty ibkr-quote symbol (the runtime never turns it into ES)', async () => {
    assert.deepStrictEqual(await invalidProperties('mia_quote', {}), []);
    assert.ok((await invalidProperties('mia_quote', { symbol: '' }))?.some((p) => /symbol/.test(p)));
    assert.ok((await invalidProperties('mia_quote', { symbol: '   ' }))?.some((p) => /symbol/.test(p)));
    assert.ok((await invalidProperties('mia_quote', { mode: 'poll', pollSec: 0 }))?.some((p) => /pollSec/.test(p)));
    assert.deepStrictEqual(await invalidProperties('mia_quote', { mode: 'poll', pollSec: 5 }), []);
  });

  it('flags a Sierra host the runtime would refuse, and accepts names and addresses', async () => {
    for (const host of ['127.0.0.1', 'sierra.local', '::1', '[fe80::1]']) {
      assert.deepStrictEqual(await invalidProperties('mia_sierra', { host }), [], host);
    }
    for (const host of ['http://127.0.0.1', 'my host', '127.0.0.1/dtc', 'host;rm']) {
      assert.ok((await invalidProperties('mia_sierra', { host }))?.some((p) => /host/.test(p)), `${host} passed the editor`);
    }
  });

  it('deploys the example from the editor without a warning', async () => {
    const page = browser.page;
    // A change, so the Deploy button is enabled: move the example's note a little, as a person might.
    await page.evaluate(`(() => { const n = RED.nodes.node('mia_comment_live'); n.x += 20; n.dirty = true; n.changed = true; RED.nodes.dirty(true); RED.view.redraw(true); })()`);
    const before = await page.locator('.red-ui-notification').count();
    await page.click('#red-ui-header-button-deploy');
    await page.locator('.red-ui-notification', { hasText: /Successfully deployed|deployed/i }).first().waitFor({ state: 'visible', timeout: 20000 });
    const texts = await page.locator('.red-ui-notification').allInnerTexts();
    assert.ok(!texts.some((t) => /not properly configured|unrecognised|unknown types/i.test(t)), texts.slice(before).join(' | '));
    assert.deepStrictEqual(browser.pageErrors, []);
  });
});
