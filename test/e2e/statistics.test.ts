// The shipped pipeline (flows/mia-ia-pipeline.json) on a REPLAYED simulator day: a recording of the seeded simulator
// market (Wednesday 4 March 2026, 08:30 to 16:00 New York, with the 4 h of 1-minute bars before it that the flow's
// preload asks for) in the Node-RED user dir's mia-recordings folder, ibkr-config in replay mode at
// `max` serving it and sierra-config's DTC simulator filling on the same replay. Battle Navale's signals become Sierra
// orders and fills, mia-trade-stats closes trades, and the dashboard's "Strategy statistics" group shows them. A
// replay gives the flow the same updates whatever the machine's load, so the day is the same on every run. Its
// picture goes to test-output/e2e/strategy-statistics.png; with MIA_README_SCREENSHOT=1 also to the README's copy,
// test/e2e/screenshots/strategy-statistics.png (committed: a plain test run leaves the working tree clean).
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Page } from 'playwright-core';
import { seededRecordLines } from '../../lib/replay/from-seeded';
import { encodeRecording } from '../../lib/replay/recording';
import { repoRoot } from '../tools/local-node-red';
import { chromiumMissing, openChromium, SCREENSHOT_DIR, type OpenChromium } from './support/chromium';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce } from './support/package-under-test';

const pipelineFile = path.join(repoRoot, 'flows', 'mia-ia-pipeline.json');
const README_SCREENSHOT = path.join(repoRoot, 'test', 'e2e', 'screenshots', 'strategy-statistics.png');
const SCREENSHOT = path.join(SCREENSHOT_DIR, 'strategy-statistics.png');
/** The shipped simulators' seed (flows/mia-ia-pipeline.json): the replayed day is the simulator's own. */
const SEED = 7;
/**
 * Wednesday 4 March 2026 (New York on UTC−5, before the switch to summer time), from 08:30, an hour before the open as a
 * trader deploys: the preload's answer and the flow's warm-up are done long before the risk rules' trading hours
 * (09:35), whatever the machine's load (at `max` a late preload would otherwise make the flow's gate "after the preload
 * only" drop the first signals, and change the day), to 16:00.
 */
const SESSION_FROM = Date.UTC(2026, 2, 4, 13, 30);
const SESSION_TO = Date.UTC(2026, 2, 4, 21, 0);
const RECORDING = 'ES-2026-03-04.jsonl.gz';
/** What the shipped flow's preload (ibkr-history, period 4h) asks for at the start. */
const PRELOAD_MS = 4 * 3_600_000;
const MIN_TRADES = 2;

interface StatsView {
  /** The statistics message the summary widget shows (its text). */
  summary: string | null;
  equityPoints: number;
  /** The equity points' times as the chart holds them (New York wall clock read as UTC). */
  equityTimes: number[];
  tableRows: number;
  /** Each table row's reason (the signal's dominant component, or 'no signal'). */
  reasons: string[];
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
      reasons: table && Array.isArray(table.payload) ? table.payload.map((row) => String(row.reason)) : [],
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

/** The price chart's newest ES point (New York wall clock read as UTC), 0 before the first. */
const NEWEST_PRICE = `(() => {
  const points = document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_price || [];
  return Math.max(0, ...points.filter((m) => m.series === 'ES').map((m) => Number(m._datapoint.x)));
})()`;

describe('e2e: strategy statistics of a replayed simulator day on the shipped dashboard', function () {
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
      // What the README tells a trader to set for a replay (the file name is enough), and, as in dashboard.test.ts, a
      // small option chain; everything else as shipped.
      if (node.type === 'ibkr-config') Object.assign(node, { mode: 'replay', replayFile: RECORDING, replaySpeed: 'max', record: false });
      if (node.type === 'sierra-config') Object.assign(node, { simReplayFile: RECORDING });
      if (node.type === 'ibkr-options-chain') Object.assign(node, { classes: 'both', expiryMode: 'next', nextCount: 2, windowMode: 'strikes', windowStrikes: 8 });
    }
    // The recording goes where ibkr-config's replay mode looks for it, before the flow that replays it is deployed.
    nodeRed = await startNodeRed([]);
    const folder = path.join(nodeRed.userDir, 'mia-recordings');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, RECORDING), encodeRecording(seededRecordLines(SEED, SESSION_FROM, SESSION_TO, PRELOAD_MS)));
    await nodeRed.deploy(pipeline);
    browser = await openChromium();
  });

  after(async () => {
    await browser?.close();
    await nodeRed?.stop();
  });

  it('shows the closed trades of the replayed day: the count, an equity point and a table row per trade, each with its signal, and saves the picture', async () => {
    const page = browser.page;
    await page.goto(`${nodeRed.url}/dashboard`);
    await page.waitForURL(/\/dashboard\/es/);
    await page.locator('#nrdb-ui-widget-mia_stats_summary').waitFor({ state: 'visible' });
    // The whole replayed session: wait until the price chart (New York time on its axis) shows its last point of the
    // session (15:55; the recording ends at 16:00), past the risk rules' trading hours (09:35–15:45 New York, no new
    // position after).
    const lastBar = Date.UTC(2026, 2, 4, 15, 55);
    await page.waitForFunction(`${NEWEST_PRICE} >= ${lastBar}`, undefined, { polling: 1000, timeout: 150_000 });
    // The chart, the table and the summary each get their own copy of a statistics message: read them once they agree
    // and a second later still say the same (the replay's last fills have reached the dashboard).
    let view: StatsView = { summary: null, equityPoints: 0, equityTimes: [], tableRows: 0, reasons: [] };
    let trades = 0;
    let previous = '';
    for (let i = 0; i < 30; i++) {
      view = await statsView(page);
      trades = Number(String(view.summary).split(' ')[0]);
      const agreed = view.equityPoints === trades && view.tableRows === trades;
      if (agreed && JSON.stringify(view) === previous) break;
      previous = agreed ? JSON.stringify(view) : '';
      await page.waitForTimeout(1000);
    }
    assert.ok(trades >= MIN_TRADES, `summary ${view.summary}`);
    assert.match(String(view.summary), /^\d+ · \d+ % · [−-]?\$[\d.]+ · (—|[\d.]+) · \$[\d.]+$/);
    assert.strictEqual(view.equityPoints, trades, 'one equity point per closed trade');
    assert.strictEqual(view.tableRows, trades, 'one table row per closed trade');
    // Every trade opened on a Battle Navale signal (at `max` the fills come in market time, never late).
    assert.ok(view.reasons.every((r) => r !== '' && r !== 'no signal'), `reasons ${view.reasons.join(', ')}`);
    // The time axis reads New York time, as the price chart's: trades open in the trading hours (09:35–15:45 ET) and
    // close by the end of the session; unshifted, the UTC clock would read 5 hours later.
    const clocks = view.equityTimes.map((x) => new Date(x).getUTCHours() + new Date(x).getUTCMinutes() / 60);
    assert.ok(clocks.every((h) => h >= 9.5 && h <= 16), `equity points at ${clocks.map((h) => h.toFixed(2)).join(', ')} h on the axis`);
    // The page shows what the store holds: the summary text, the table's first page (6 rows, every one whole), the
    // equity line on the chart's canvas.
    const shown = /^(\d+) · \d+ %/.exec((await page.locator('#nrdb-ui-widget-mia_stats_summary').innerText()).replace(/\s+/g, ' ').replace(/^.*?(\d+ · )/, '$1'));
    assert.ok(shown && Number(shown[1]) === trades, `the summary shows ${shown?.[0]}`);
    const rows = page.locator('#nrdb-ui-widget-mia_stats_table tbody tr', { hasText: /long|short/ });
    await rows.first().waitFor({ state: 'visible' });
    const rowCount = await rows.count();
    assert.strictEqual(rowCount, Math.min(trades, 6), `${rowCount} rows shown for ${trades} trades (6 a page)`);
    assert.match(await rows.first().innerText(), /^\d+\s+(long|short)\s+1\s+\d{4}(\.\d+)?\s+\d{4}(\.\d+)?\s+-?\d/);
    const widget = await page.locator('#nrdb-ui-widget-mia_stats_table .v-table__wrapper').boundingBox();
    const lastRow = await rows.nth(rowCount - 1).boundingBox();
    assert.ok(widget && lastRow && lastRow.y + lastRow.height <= widget.y + widget.height + 0.5, `the last row (${JSON.stringify(lastRow)}) is cut by the table (${JSON.stringify(widget)})`);
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
