// The Node-RED editor in Chromium, as a trader meets it: the palette, each node's dialog and help, Import › Examples,
// Deploy, and the Debug sidebar. Driven by package.json and dist/, so every declared node is checked once built.
import assert from 'assert';
import { chromiumMissing, openChromium, type OpenChromium } from './support/chromium';
import {
  cancelEditDialogs,
  deploy,
  describeType,
  importExample,
  importFromClipboard,
  missingFields,
  openEditDialog,
  openEditor,
  openExamples,
  problemNodes,
  revertToLoaded,
  showHelp,
} from './support/editor';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce, declaredNodes, exampleFlows, expectedCategory, isBuilt, packageName } from './support/package-under-test';

describe('e2e: the editor in Chromium', function () {
  this.timeout(60000);
  let nodeRed: RunningNodeRed;
  let browser: OpenChromium;

  before(async function () {
    this.timeout(120000);
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    buildOnce();
    nodeRed = await startNodeRed();
    browser = await openChromium();
    await openEditor(browser.page, nodeRed.url);
  });

  after(async () => {
    await browser?.close();
    await nodeRed?.stop();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && browser) {
      await browser.screenshot(`failed-${this.currentTest.title.replace(/[^\w-]+/g, '-')}`).catch(() => undefined);
    }
    if (browser) await cancelEditDialogs(browser.page);
  });

  it('opens with no script error from any node definition', async () => {
    await browser.screenshot('editor');
    assert.deepStrictEqual(browser.pageErrors, [], `the editor threw: ${browser.pageErrors.join('; ')}`);
  });

  for (const { type } of declaredNodes) {
    it(`shows ${type} in its palette category, or keeps it out of the palette if it is a config node`, async function () {
      if (!isBuilt(type)) this.skip(); // waits for nodes/<type>/
      const info = await describeType(browser.page, type);
      assert.ok(info.category, `the editor does not know ${type}: its .html did not register it`);
      if (info.category === 'config') {
        assert.strictEqual(info.inPalette, false, `config node ${type} must not be in the palette`);
        assert.match(type, /-config$/, `${type} is a config node but is not named *-config`);
      } else {
        assert.strictEqual(info.category, expectedCategory(type), `${type} has category ${info.category}`);
        assert.strictEqual(info.paletteCategory, expectedCategory(type), `${type} is not in the ${expectedCategory(type)} palette`);
      }
    });

    it(`opens the ${type} dialog with a field for each setting, and its help in the sidebar`, async function () {
      if (!isBuilt(type)) this.skip(); // waits for nodes/<type>/
      const info = await describeType(browser.page, type);
      const isConfig = info.category === 'config';
      await openEditDialog(browser.page, type, isConfig);
      await browser.screenshot(`dialog-${type}`);
      assert.deepStrictEqual(await missingFields(browser.page, info.scalarDefaults, isConfig), [], `${type}: settings with no field`);
      assert.ok(info.hasHelp, `${type} has no help text (locales/en-US/${type}.html)`);
      const help = await showHelp(browser.page, type);
      assert.ok(help.length > 40, `the Help sidebar shows no help for ${type}: "${help}"`);
      await browser.screenshot(`help-${type}`);
      assert.deepStrictEqual(browser.pageErrors, [], `the editor threw: ${browser.pageErrors.join('; ')}`);
    });
  }

  it('lists every example flow of this package under Import › Examples', async function () {
    const expected = exampleFlows();
    if (expected.length === 0) this.skip(); // waits for flows/
    const listed = await openExamples(browser.page, packageName);
    await browser.screenshot('import-examples');
    await browser.page.keyboard.press('Escape');
    assert.deepStrictEqual(listed, expected);
  });

  exampleFlows().forEach((example, i) => {
    it(`imports the example ${example} with every node known and valid`, async function () {
      // A clean editor (examples may share config node ids): the first loads the page again after the dialog tests'
      // drags, the others undo the previous import on the same page.
      if (i === 0) await openEditor(browser.page, nodeRed.url);
      else await revertToLoaded(browser.page, nodeRed.url);
      await openExamples(browser.page, packageName);
      await importExample(browser.page, example);
      await browser.screenshot(`example-${example.replace(/\//g, '-')}`);
      assert.deepStrictEqual(await problemNodes(browser.page), []);
    });
  });

  it('deploys an imported example, and the runtime runs what the editor shows', async function () {
    const examples = exampleFlows();
    if (examples.length === 0) this.skip(); // waits for flows/
    const example = examples.includes('mia-ia-pipeline') ? 'mia-ia-pipeline' : examples[0];
    await openEditor(browser.page, nodeRed.url);
    await openExamples(browser.page, packageName);
    await importExample(browser.page, example);
    const editorTypes = await browser.page.evaluate<string[]>(
      '(() => { const t = []; RED.nodes.eachNode((n) => { if (n.z === RED.workspaces.active()) t.push(n.type); }); return t.sort(); })()',
    );
    await deploy(browser.page);
    const deployed = await nodeRed.getJson<FlowNode[]>('/flows');
    for (const type of new Set(editorTypes)) {
      assert.ok(deployed.some((n) => n.type === type), `${type} was not deployed`);
    }
    assert.doesNotMatch(nodeRed.output(), /\[error\]/, 'the runtime logged an error after the deploy');
  });

  it('shows in the Debug sidebar the message of a flow pasted and deployed from the editor', async () => {
    await openEditor(browser.page, nodeRed.url);
    await browser.page.evaluate(`RED.sidebar.show('debug')`);
    const marker = `debug-check-${Date.now()}`;
    await importFromClipboard(browser.page, [
      {
        id: 'e2e_debug_inject', type: 'inject', props: [{ p: 'payload' }], repeat: '', once: true,
        onceDelay: '0.5', payload: marker, payloadType: 'str', x: 150, y: 80, wires: [['e2e_debug_out']],
      },
      {
        id: 'e2e_debug_out', type: 'debug', active: true, tosidebar: true, console: false,
        complete: 'payload', targetType: 'msg', statusVal: '', statusType: 'auto', x: 350, y: 80, wires: [],
      },
    ]);
    await deploy(browser.page);
    const message = browser.page.locator('.red-ui-debug-msg', { hasText: marker });
    await message.first().waitFor({ state: 'visible', timeout: 15000 });
    await browser.screenshot('debug-sidebar');
  });
});
