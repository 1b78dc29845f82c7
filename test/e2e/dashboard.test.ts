// The Dashboard 2.0 page skeleton (flows/dashboard-demo.json) renders in Chromium with data in its charts, gauge,
// texts and table: the widget shapes the pipeline flow reuses.
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { repoRoot } from '../../scripts/local-node-red';
import { chromiumMissing, openChromium, type OpenChromium } from './support/chromium';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce } from './support/package-under-test';

const demoFile = path.join(repoRoot, 'flows', 'dashboard-demo.json');

/** Pixels of a chart's canvas close to `hex` (its series colour): > 0 once that series is drawn. */
function seriesPixels(browser: OpenChromium, widgetId: string, hex: string): Promise<number> {
  return browser.page.evaluate(`(() => {
    const canvas = document.querySelector('#nrdb-ui-widget-${widgetId} canvas');
    if (!canvas || !canvas.width) return 0;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt('${hex}'.slice(i, i + 2), 16));
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 && Math.abs(data[i + 2] - b) < 24 && data[i + 3] > 200) n++;
    }
    return n;
  })()`);
}

describe('e2e: the Dashboard 2.0 page', function () {
  this.timeout(60000);
  let nodeRed: RunningNodeRed;
  let browser: OpenChromium;
  let demo: FlowNode[];

  before(async function () {
    this.timeout(120000);
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    buildOnce();
    demo = JSON.parse(fs.readFileSync(demoFile, 'utf8')) as FlowNode[];
    nodeRed = await startNodeRed(demo);
    browser = await openChromium();
    await browser.page.goto(`${nodeRed.url}/dashboard`);
    await browser.page.waitForURL(/\/dashboard\/es/);
  });

  after(async () => {
    await browser?.close();
    await nodeRed?.stop();
  });

  it('draws ES price with VWAP and σ bands, cumulative delta, and GEX by strike', async () => {
    const widget = (id: string) => browser.page.locator(`#nrdb-ui-widget-${id} canvas`).first();
    for (const id of ['mia_chart_price', 'mia_chart_delta', 'mia_chart_gex']) await widget(id).waitFor({ state: 'visible' });
    const series = (id: string) => {
      const chart = demo.find((n) => n.id === id) as FlowNode & { colors: string[] };
      return chart.colors;
    };
    // Wait for two seconds of the 1 s injects, then count pixels of each series' colour (a legend icon alone stays
    // well under the thresholds; a line across the chart is above them).
    await browser.page.waitForTimeout(2500);
    await browser.screenshot('dashboard');
    await browser.page.screenshot({ path: path.join(repoRoot, 'test-output', 'e2e', 'dashboard-full.png'), fullPage: true });
    assert.ok((await seriesPixels(browser, 'mia_chart_price', series('mia_chart_price')[1])) > 400, 'no VWAP line on the price chart');
    assert.ok((await seriesPixels(browser, 'mia_chart_price', series('mia_chart_price')[2])) > 400, 'no ±1σ band on the price chart');
    assert.ok((await seriesPixels(browser, 'mia_chart_delta', series('mia_chart_delta')[0])) > 50, 'no cumulative delta line');
    assert.ok((await seriesPixels(browser, 'mia_chart_gex', series('mia_chart_gex')[0])) > 500, 'no GEX bars');
  });

  it('shows the last signal, its levels and reasons, the gamma walls, position and P&L, and the session', async () => {
    const text = async (id: string) => (await browser.page.locator(`#nrdb-ui-widget-${id}`).innerText()).replace(/\s+/g, ' ');
    assert.match(await text('mia_text_signal'), /Last signal LONG/);
    assert.match(await text('mia_text_levels'), /5001\.5 \/ 4998\.25 \/ 5004\.75, 5008/);
    assert.match(await text('mia_text_reasons'), /Vikings hold the battle/);
    assert.match(await text('mia_text_walls'), /5065\.25 \/ 4965\.25 \/ 5013\.25/);
    assert.match(await text('mia_text_position'), /1 ESZ5 @ 5001\.5/);
    assert.match(await text('mia_text_upnl'), /37\.5/);
    assert.match(await text('mia_text_rpnl'), /125/);
    assert.match(await text('mia_text_ibkr'), /authenticated/);
    assert.match(await text('mia_text_sierra'), /logged on/);
    assert.match(await text('mia_text_trading'), /OFF/);
    assert.match(await text('mia_gauge_score'), /0\.42/);
  });

  it('lists orders and fills in the table, one row per order', async () => {
    const rows = browser.page.locator('#nrdb-ui-widget-mia_table_orders tbody tr');
    await rows.first().waitFor({ state: 'visible' });
    assert.strictEqual(await rows.count(), 3);
    assert.match(await rows.first().innerText(), /MIA-0001\s+buy\s+1\s+1\s+5001\.5\s+filled/);
  });

  it('renders with no error in the page or the runtime log', () => {
    assert.deepStrictEqual(browser.pageErrors, []);
    assert.doesNotMatch(nodeRed.output(), /\[(error|warn)\].*(ui-|dashboard)/i);
  });
});
