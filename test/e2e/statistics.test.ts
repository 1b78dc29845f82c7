// The shipped pipeline (flows/mia-ia-pipeline.json) on a simulated session run fast (both simulators at 300× real
// time, the same seeded market and date) from 10:00 to the end of the trading hours: Battle Navale's signals become Sierra orders and fills, mia-trade-stats
// closes trades, and the dashboard's "Strategy statistics" group shows them. Its picture goes to
// test-output/e2e/strategy-statistics.png; with MIA_README_SCREENSHOT=1 also to the README's copy,
// test/e2e/screenshots/strategy-statistics.png (committed: a plain test run leaves the working tree clean).
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../scripts/local-node-red';
import { chromiumMissing, openChromium, SCREENSHOT_DIR, type OpenChromium } from './support/chromium';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce } from './support/package-under-test';

const pipelineFile = path.join(repoRoot, 'flows', 'mia-ia-pipeline.json');
const README_SCREENSHOT = path.join(repoRoot, 'test', 'e2e', 'screenshots', 'strategy-statistics.png');
const SCREENSHOT = path.join(SCREENSHOT_DIR, 'strategy-statistics.png');
/** 300×: from 10:00 New York (the simulators' start) to the end of the trading window, 15:45, in about 70 s. */
const SPEED = 300;
const MIN_TRADES = 2;

interface StatsView {
  /** The statistics message the summary widget shows (its text). */
  summary: string | null;
  equityPoints: number;
  /** The equity points' times as the chart holds them (New York wall clock read as UTC). */
  equityTimes: number[];
  tableRows: number;
}

/** What the dashboard's store holds for the statistics widgets, read in one go (trades keep closing meanwhile). */
function statsView(page: Page): Promise<StatsView> {
  return page.evaluate(`(() => {
    const messages = document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages;
    const chart = messages.mia_stats_chart;
    const table = messages.mia_stats_table;
    const summary = messages.mia_stats_summary;
    return {
      summary: summary && typeof summary.payload === 'string' ? summary.payload : null,
      equityPoints: Array.isArray(chart) ? chart.length : 0,
      equityTimes: Array.isArray(chart) ? chart.map((m) => Number(m._datapoint.x)) : [],
      tableRows: table && Array.isArray(table.payload) ? table.payload.length : 0,
    };
  })()`);
}

/** Pixels of a chart's canvas close to `hex` (its line colour). */
function linePixels(page: Page, widgetId: string, hex: string): Promise<number> {
  return page.evaluate(`(() => {
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

describe('e2e: strategy statistics of a simulated session on the shipped dashboard', function () {
  this.timeout(180_000);
  let nodeRed: RunningNodeRed;
  let browser: OpenChromium;

  before(async function () {
    this.timeout(120_000);
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    buildOnce();
    const pipeline = JSON.parse(fs.readFileSync(pipelineFile, 'utf8')) as FlowNode[];
    for (const node of pipeline) {
      // Only the simulators' speed (and, as in dashboard.test.ts, a small option chain) differ from the shipped flow.
      if (node.type === 'ibkr-config' || node.type === 'sierra-config') node.simSpeed = SPEED;
      if (node.type === 'ibkr-options-chain') Object.assign(node, { classes: 'both', expiryMode: 'next', nextCount: 2, windowMode: 'strikes', windowStrikes: 8 });
    }
    nodeRed = await startNodeRed(pipeline);
    browser = await openChromium();
  });

  after(async () => {
    await browser?.close();
    await nodeRed?.stop();
  });

  it('shows the closed trades of the simulated day: the count, an equity point and a table row per trade, and saves the picture', async () => {
    const page = browser.page;
    await page.goto(`${nodeRed.url}/dashboard`);
    await page.waitForURL(/\/dashboard\/es/);
    await page.locator('#nrdb-ui-widget-mia_stats_summary').waitFor({ state: 'visible' });
    // The whole simulated trading day: wait until the market is past the risk rules' trading hours (09:35–15:45 New
    // York, no new position after), read on the price chart's newest ES point (its axis is New York time).
    await page.waitForFunction(
      `(() => {
        const points = document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_price || [];
        const newest = Math.max(0, ...points.filter((m) => m.series === 'ES').map((m) => Number(m._datapoint.x)));
        const d = new Date(newest);
        return d.getUTCHours() * 60 + d.getUTCMinutes() >= 15 * 60 + 50;
      })()`,
      undefined,
      { polling: 1000 },
    );
    // The chart, the table and the summary each get their own copy of a statistics message: read them once they agree.
    let view: StatsView = { summary: null, equityPoints: 0, equityTimes: [], tableRows: 0 };
    let trades = 0;
    for (let i = 0; i < 20; i++) {
      view = await statsView(page);
      trades = Number(String(view.summary).split(' ')[0]);
      if (view.equityPoints === trades && view.tableRows === trades) break;
      await page.waitForTimeout(250);
    }
    assert.ok(trades >= MIN_TRADES, `summary ${view.summary}`);
    assert.match(String(view.summary), /^\d+ · \d+ % · \$-?[\d.]+ · (—|[\d.]+) · \$[\d.]+$/);
    assert.strictEqual(view.equityPoints, trades, 'one equity point per closed trade');
    assert.strictEqual(view.tableRows, trades, 'one table row per closed trade');
    // The time axis reads New York time, as the price chart's: trades open in the trading hours (09:35–15:45 ET) and
    // close by the end of the session; unshifted, the UTC clock would read 5 hours later.
    const clocks = view.equityTimes.map((x) => new Date(x).getUTCHours() + new Date(x).getUTCMinutes() / 60);
    assert.ok(clocks.every((h) => h >= 9.5 && h <= 16.25), `equity points at ${clocks.map((h) => h.toFixed(2)).join(', ')} h on the axis`);
    // The page shows what the store holds (a trade may close meanwhile: at least as many): the summary text, the
    // table's first page (6 rows), the equity line on the chart's canvas.
    const shown = /^(\d+) · \d+ %/.exec((await page.locator('#nrdb-ui-widget-mia_stats_summary').innerText()).replace(/\s+/g, ' ').replace(/^.*?(\d+ · )/, '$1'));
    assert.ok(shown && Number(shown[1]) >= trades, `the summary shows ${shown?.[0]}`);
    const rows = page.locator('#nrdb-ui-widget-mia_stats_table tbody tr', { hasText: /long|short/ });
    await rows.first().waitFor({ state: 'visible' });
    const rowCount = await rows.count();
    assert.ok(rowCount >= Math.min(trades, 6) && rowCount <= 6, `${rowCount} rows shown for ${trades} trades (6 a page)`);
    assert.match(await rows.first().innerText(), /^\d+\s+(long|short)\s+1\s+\d{4}(\.\d+)?\s+\d{4}(\.\d+)?\s+-?\d/);
    await page.waitForTimeout(800); // the chart paints on the next animation frame
    assert.ok((await linePixels(page, 'mia_stats_chart', '#0d74ce')) > 100, 'no equity line drawn');

    const section = page.locator('#nrdb-ui-group-mia_grp_stats');
    await section.scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await section.screenshot({ path: SCREENSHOT });
    assert.ok(fs.statSync(SCREENSHOT).size > 10_000, 'the picture is not blank');
    if (process.env.MIA_README_SCREENSHOT === '1') fs.copyFileSync(SCREENSHOT, README_SCREENSHOT);
    assert.deepStrictEqual(browser.pageErrors, []);
  });
});
