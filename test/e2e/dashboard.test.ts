// The shipped pipeline (flows/mia-ia-pipeline.json) deployed into the real Node-RED on its simulators: its Dashboard 2.0
// page draws the market with the preloaded history (also after a reload), the gamma exposure, the signal, orders and
// fills, position and P&L and the connection health, and the editor's Debug sidebar receives the signals.
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Page } from 'playwright-core';
import { repoRoot } from '../tools/local-node-red';
import { chromiumMissing, openChromium, SCREENSHOT_DIR, type OpenChromium } from './support/chromium';
import { openEditor } from './support/editor';
import { startNodeRed, type FlowNode, type RunningNodeRed } from './support/node-red';
import { buildOnce } from './support/package-under-test';

const pipelineFile = path.join(repoRoot, 'flows', 'mia-ia-pipeline.json');
/** The simulators run 40× real time: a bar every 1.5 s, and Battle Navale's 15-min cooldown lasts 22.5 s. */

interface ChartPoint {
  series: string;
  x: number;
}

/** The points a chart widget holds in the page (the dashboard commits each point it draws to its store). */
function chartPoints(page: Page, widgetId: string): Promise<ChartPoint[]> {
  return page.evaluate(`(() => {
    const store = document.querySelector('#app').__vue_app__.config.globalProperties.$store;
    const messages = store.state.data.messages['${widgetId}'];
    return Array.isArray(messages) ? messages.map((m) => ({ series: String(m.series), x: Number(m._datapoint.x) })) : [];
  })()`);
}

/** Pixels of a chart's canvas close to `hex` (a series colour): > 0 once that series is drawn. */
function seriesPixels(page: Page, widgetId: string, hex: string): Promise<number> {
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

async function widgetText(page: Page, id: string): Promise<string> {
  return (await page.locator(`#nrdb-ui-widget-${id}`).innerText()).replace(/\s+/g, ' ');
}

/**
 * Waits until a text widget shows something matching `pattern`, then returns what it shows. Without `timeout`, until
 * just before the running test's own timeout (support/chromium.ts).
 */
async function waitForText(page: Page, id: string, pattern: RegExp, timeout?: number): Promise<string> {
  await page.locator(`#nrdb-ui-widget-${id}`).filter({ hasText: pattern }).waitFor({ state: 'visible', timeout });
  return widgetText(page, id);
}

describe('e2e: the dashboard of the shipped pipeline', function () {
  this.timeout(60000);
  let nodeRed: RunningNodeRed;
  let browser: OpenChromium;
  let dashboard: Page;
  let pipeline: FlowNode[];
  const colour = (chartId: string, index: number) => (pipeline.find((n) => n.id === chartId) as FlowNode & { colors: string[] }).colors[index];

  before(async function () {
    this.timeout(120000);
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    buildOnce();
    pipeline = JSON.parse(fs.readFileSync(pipelineFile, 'utf8')) as FlowNode[];
    // A small chain, so the GEX arrives within a test's budget on a busy machine: the shipped market scope looks up
    // thousands of contracts at the real limiter's 10 requests/s (minutes); it is tested on real chains. 8 strikes
    // each side: the GEX test wants more than 10 bars.
    for (const node of pipeline) {
      if (node.type === 'ibkr-options-chain') Object.assign(node, { classes: 'both', expiryMode: 'next', nextCount: 2, windowMode: 'strikes', windowStrikes: 8 });
    }
    nodeRed = await startNodeRed(pipeline);
    browser = await openChromium();
    // The editor opens first so its Debug sidebar is listening when the first live signal leaves Battle Navale.
    await openEditor(browser.page, nodeRed.url);
    await browser.page.evaluate(`RED.sidebar.show('debug')`);
    dashboard = await browser.context.newPage();
    dashboard.on('pageerror', (err) => browser.pageErrors.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await nodeRed?.stop();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && dashboard) {
      await browser.screenshot(`failed-dashboard-${this.currentTest.title.replace(/[^\w-]+/g, '-')}`, dashboard).catch(() => undefined);
    }
  });

  it('draws ES with VWAP and σ bands from the preloaded history on, and the cumulative delta', async () => {
    await dashboard.goto(`${nodeRed.url}/dashboard`);
    await dashboard.waitForURL(/\/dashboard\/es/);
    await dashboard.locator('#nrdb-ui-widget-mia_chart_price canvas').first().waitFor({ state: 'visible' });
    // The preload brings the simulated morning so far (about two hours of 1-min bars); live bars come on top.
    await dashboard.waitForFunction(
      `(document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_price || [])
        .filter((m) => m.series === 'ES').length > 100`,
    );
    const points = await chartPoints(dashboard, 'mia_chart_price');
    for (const series of ['ES', 'VWAP', '+1σ', '−1σ', '+2σ', '−2σ']) {
      assert.ok(points.filter((p) => p.series === series).length > 100, `the price chart has too few ${series} points`);
    }
    const xs = points.map((p) => p.x);
    assert.ok(Math.max(...xs) - Math.min(...xs) >= 90 * 60000, 'the price chart does not span the preloaded bars');
    assert.ok((await chartPoints(dashboard, 'mia_chart_delta')).length > 100, 'the cumulative delta misses the preload');
    await dashboard.waitForTimeout(500); // the canvas is drawn on the next animation frame
    assert.ok((await seriesPixels(dashboard, 'mia_chart_price', colour('mia_chart_price', 0))) > 400, 'no VWAP line drawn');
    assert.ok((await seriesPixels(dashboard, 'mia_chart_price', colour('mia_chart_price', 5))) > 400, 'no ES line drawn');
    assert.ok((await seriesPixels(dashboard, 'mia_chart_delta', colour('mia_chart_delta', 0))) > 200, 'no cumulative delta drawn');
  });

  it('keeps every earlier point after a reload of the page, and adds the new ones', async () => {
    const before = await chartPoints(dashboard, 'mia_chart_price');
    const newestBefore = Math.max(...before.map((p) => p.x));
    await dashboard.waitForTimeout(4000); // a few more simulated bars
    await dashboard.reload();
    await dashboard.locator('#nrdb-ui-widget-mia_chart_price canvas').first().waitFor({ state: 'visible' });
    await dashboard.waitForFunction(
      `(document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_price || [])
        .some((m) => m._datapoint.x > ${newestBefore})`,
    );
    // Points by series and time: a live point that lands while the page loads may be drawn twice, never lost.
    const key = (p: ChartPoint) => `${p.series}@${p.x}`;
    const earlier = [...new Set(before.map(key))];
    // The chart asks Node-RED for its history (widget-load) when it mounts, and listens for live points from then on:
    // a live point can come before the answer (its request waits behind the flow on a loaded Node-RED: at load 10-15
    // none of the earlier points was in the page yet when the first newer one was read, in 1 run of 3). The history is waited for, not timed.
    await dashboard
      .waitForFunction(
        `(() => {
          const messages = document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_price || [];
          const held = new Set(messages.map((m) => String(m.series) + '@' + Number(m._datapoint.x)));
          return ${JSON.stringify(earlier)}.every((k) => held.has(k));
        })()`,
        undefined,
        { timeout: 20_000 },
      )
      .catch(() => undefined);
    const after = await chartPoints(dashboard, 'mia_chart_price');
    const kept = new Set(after.map(key));
    const lost = earlier.filter((k) => !kept.has(k));
    assert.deepStrictEqual(lost, [], `after the reload ${lost.length} of the ${before.length} earlier points are missing`);
    assert.ok(after.some((p) => p.x > newestBefore), 'no point newer than the first visit after the reload');
    assert.ok((await chartPoints(dashboard, 'mia_chart_delta')).length > 100, 'the cumulative delta lost its history on reload');
  });

  it('draws the net GEX by strike and the gamma walls', async () => {
    await dashboard.waitForFunction(
      `(document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_gex || []).length > 10`,
    );
    await dashboard.waitForTimeout(500);
    assert.ok((await seriesPixels(dashboard, 'mia_chart_gex', colour('mia_chart_gex', 0))) > 500, 'no GEX bars drawn');
    assert.match(await waitForText(dashboard, 'mia_text_walls', /\d+\.\d\d \/ \d+\.\d\d \/ \d+\.\d\d/), /\d{4}\.\d\d \//);
    assert.match(await widgetText(dashboard, 'mia_text_walls_spx'), /\d{4} \/ \d{4} \//);
  });

  it('shows the live score, the last signal with its levels and reasons, and lists its order in the table', async () => {
    assert.match(await waitForText(dashboard, 'mia_gauge_score', /-?\d\.\d+/), /score/);
    const signal = await waitForText(dashboard, 'mia_text_signal', /(LONG|SHORT) at \d\d:\d\d ET/);
    assert.match(signal, /score -?\d\.\d\d · confidence \d\.\d\d/);
    assert.match(await widgetText(dashboard, 'mia_text_levels'), /\d{4}(\.\d+)? \/ \d{4}(\.\d+)? \/ \d{4}/);
    assert.match(await widgetText(dashboard, 'mia_text_reasons'), /battle .*trend .*VWAP/);
    const rows = dashboard.locator('#nrdb-ui-widget-mia_table_orders tbody tr', { hasText: /mia-/ });
    await rows.first().waitFor({ state: 'visible' });
    assert.match(await rows.first().innerText(), /\d\d:\d\d:\d\d\s+\S*mia-\d+\s+(buy|sell)\s+1\s/);
    // The table's last row and its page footer sit inside the widget: nothing is cut.
    const widget = await dashboard.locator('#nrdb-ui-widget-mia_table_orders').boundingBox();
    const lastRow = await rows.last().boundingBox();
    assert.ok(widget && lastRow && lastRow.y + lastRow.height <= widget.y + widget.height + 1, `the last order row is cut: ${JSON.stringify({ widget, lastRow })}`);
  });

  it('lists the fills newest first, with their ET time', async () => {
    const rows = dashboard.locator('#nrdb-ui-widget-mia_table_fills_ui tbody tr', { hasText: /mia-/ });
    await rows.nth(1).waitFor({ state: 'visible' });
    const times = (await rows.allInnerTexts()).map((t) => /(\d\d:\d\d:\d\d)/.exec(t)?.[1] ?? '');
    assert.ok(times.every((t) => t !== ''), `a fill row has no time: ${JSON.stringify(times)}`);
    assert.deepStrictEqual([...times].sort().reverse(), times, 'the fills are not newest first');
  });

  it('draws the time axes in ET, whatever the browser time zone: the chart clock matches the signal text', async () => {
    // The charts draw in UTC (chartOptions.useUTC) and each t is moved by New York's offset, so a point's UTC clock is
    // its New York wall clock. "Last signal … at HH:MM ET" is worked out separately (JSONata in the flow): the newest
    // ES point is at or after it, and less than an hour later (unshifted, the axis would be 4 or 5 hours off).
    const clock = (x: number) => new Date(x).getUTCHours() + new Date(x).getUTCMinutes() / 60;
    const signal = /at (\d\d):(\d\d) ET/.exec(await widgetText(dashboard, 'mia_text_signal'));
    assert.ok(signal, 'no signal time to compare with');
    const signalClock = Number(signal[1]) + Number(signal[2]) / 60;
    const newest = Math.max(...(await chartPoints(dashboard, 'mia_chart_price')).filter((p) => p.series === 'ES').map((p) => clock(p.x)));
    assert.ok(newest >= signalClock - 2 / 60 && newest - signalClock < 1, `newest ES point at ${newest.toFixed(2)} h on the axis, signal at ${signalClock.toFixed(2)} h ET`);
    const delta = Math.max(...(await chartPoints(dashboard, 'mia_chart_delta')).map((p) => clock(p.x)));
    assert.ok(delta >= signalClock - 2 / 60 && delta - signalClock < 1, `newest cumulative delta at ${delta.toFixed(2)} h on the axis, signal at ${signalClock.toFixed(2)} h ET`);
  });

  it('shows the risk state: kill switch, trades today, day P&L against its limit, losing streak', async () => {
    assert.match(await waitForText(dashboard, 'mia_risk_kill', /ACTIVE|HALTED|REDUCING/), /Kill switch (ACTIVE|HALTED|REDUCING)/);
    // Limits of the example's sierra-config: 10 trades a day, $500 daily loss, 4 losses in a row.
    assert.match(await waitForText(dashboard, 'mia_risk_trades', /\d+ \/ 10/), /Trades today \/ max \d+ \/ 10/);
    assert.match(await widgetText(dashboard, 'mia_risk_pnl'), /-?[\d,]+\.\d\d \/ −500/);
    assert.match(await widgetText(dashboard, 'mia_risk_streak'), /Losing streak \/ max \d+ \/ 4/);
  });

  it('halts trading with KILL only after a confirmation, and trades again after Resume (also confirmed)', async () => {
    const confirmDialog = dashboard.getByText(/Kill switch: halt trading, cancel every working order and flatten/);
    await dashboard.locator('#nrdb-ui-widget-mia_btn_kill button').click();
    await confirmDialog.waitFor({ state: 'visible' });
    await dashboard.getByRole('button', { name: 'Cancel' }).click();
    await confirmDialog.waitFor({ state: 'hidden' });
    await dashboard.waitForTimeout(1500);
    assert.match(await widgetText(dashboard, 'mia_risk_kill'), /ACTIVE/, 'a cancelled confirmation halted trading');

    await dashboard.locator('#nrdb-ui-widget-mia_btn_kill button').click();
    await confirmDialog.waitFor({ state: 'visible' });
    await dashboard.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await waitForText(dashboard, 'mia_risk_kill', /HALTED/), /HALTED · no new orders/);
    assert.match(nodeRed.output(), /Kill switch HALTED: \d+ order\(s\) cancelled/);

    await dashboard.locator('#nrdb-ui-widget-mia_btn_resume button').click();
    await dashboard.getByText(/Resume trading: new orders pass the risk rules again/).waitFor({ state: 'visible' });
    await dashboard.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await waitForText(dashboard, 'mia_risk_kill', /ACTIVE/), /Kill switch ACTIVE/);
    await browser.screenshot('pipeline-dashboard-risk', dashboard);
  });

  it('shows the position, the P&L and the balance', async () => {
    assert.match(await waitForText(dashboard, 'mia_text_position', /flat|(long|short) \d/), /Position (flat|(long|short) \d+ \S+ @ \d{4})/);
    assert.match(await waitForText(dashboard, 'mia_text_rpnl', /\d\.\d\d/), /-?[\d,]+\.\d\d/);
    assert.match(await waitForText(dashboard, 'mia_text_balance', /\d\.\d\d/), /[\d,]+\.\d\d/);
  });

  it('shows the connection health: IBKR latency, rate limit, errors, uptime, data age; DTC round trip and link', async () => {
    assert.match(await waitForText(dashboard, 'mia_h_ibkr_latency', /\d+ \/ \d+ ms/), /IBKR request latency p50 \/ p99 \d+ \/ \d+ ms/);
    assert.match(await widgetText(dashboard, 'mia_h_ibkr_limit'), /< 80 %.* \d+ %.*· (OK|HIGH)/);
    assert.match(await widgetText(dashboard, 'mia_h_ibkr_errors'), /\d+\.\d % of \d+ · \d+/);
    assert.match(await widgetText(dashboard, 'mia_h_ibkr_uptime'), /\d+(s|m\d\ds|h\d\dm) \/ \d+(s|m\d\ds|h\d\dm) · \d+ reconn\./);
    assert.match(await widgetText(dashboard, 'mia_h_ibkr_age'), /\d+\.\d s ago/);
    assert.match(await waitForText(dashboard, 'mia_h_dtc_link', /· up/), /DTC link \S+ · up \d/);
    assert.match(await widgetText(dashboard, 'mia_h_dtc_rtt'), /\d+ \/ \d+ ms|no sample yet/);
    assert.match(await widgetText(dashboard, 'mia_h_dtc_heartbeats'), /missed \d+/);
    assert.match(await widgetText(dashboard, 'mia_h_dtc_reconnects'), /reconnects \d+/);
    assert.match(await widgetText(dashboard, 'mia_h_dtc_orders'), /\d+ \/ \d+ \/ \d+/);
    assert.match(await widgetText(dashboard, 'mia_text_ibkr'), /authenticated/, 'the session text shows a metrics message');
    await dashboard.waitForTimeout(1000); // let the latest points and texts paint
    await browser.screenshot('pipeline-dashboard', dashboard);
    await dashboard.screenshot({ path: path.join(SCREENSHOT_DIR, 'pipeline-dashboard-full.png'), fullPage: true });
  });

  it('sends the signals to the Debug sidebar of the editor', async () => {
    const message = browser.page.locator('.red-ui-debug-msg', { hasText: 'signals' });
    await message.first().waitFor({ state: 'visible' });
    assert.match((await message.first().innerText()).replace(/\s+/g, ' '), /msg\.payload : Object/);
    await browser.screenshot('pipeline-debug-sidebar');
  });

  it('renders with no error in the page or the runtime log', () => {
    assert.deepStrictEqual(browser.pageErrors, []);
    assert.doesNotMatch(nodeRed.output(), /\[(error|warn)\].*(ui-|dashboard)/i);
    assert.doesNotMatch(nodeRed.output(), /does not match function signature|Error evaluating value property/);
  });
});
