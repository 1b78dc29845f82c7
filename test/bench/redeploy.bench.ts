// redeploy.loop_delay: the shipped pipeline (flows/mia-ia-pipeline.json, dashboard included) in the real node-red
// binary on its simulators, with the dashboard open in Chromium, redeployed 10 times (full deploys, as the editor's
// Deploy button does: every node restarts, the simulators restart, the history preload runs again and the charts are
// fed again). Measured inside the Node-RED process (test/bench/support/loop-probe.js): how late a 10 ms timer fires,
// i.e. how long the event loop was blocked, p99 and max over the redeploys. Baseline: the same figures over the same
// running pipeline with the same page open and no redeploy, measured just before. The simulators' market day is
// pinned (Date.now() starts at BENCH_EPOCH in the Node-RED process), so the figures do not depend on today's date.
//   node --import tsx test/bench/redeploy.bench.ts
import fs from 'fs';
import os from 'os';
import path from 'path';
import { percentile, report } from './harness';
import { repoRoot } from '../tools/local-node-red';
import { chromiumMissing, openChromium } from '../e2e/support/chromium';
import { startNodeRed, type FlowNode } from '../e2e/support/node-red';
import { buildOnce } from '../e2e/support/package-under-test';

/** Tuesday 24 November 2026, 10:00 New York: the simulators' start. */
const BENCH_EPOCH = Date.parse('2026-11-24T15:00:00Z');
const WARM_MS = 40_000; // charts filled, the first options chain in, some live bars
const STEADY_MS = 20_000;
const REDEPLOYS = 10;
const BETWEEN_MS = 6_000; // the preload is back and the charts refilled before the next one

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function samples(file: string, from: number, to: number): number[] {
  if (!fs.existsSync(file)) return [];
  const out: number[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [t, delay] = line.split(' ').map(Number);
    if (t! >= from && t! < to && Number.isFinite(delay)) out.push(Math.max(0, delay!));
  }
  return out.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing) {
    process.stdout.write(`redeploy.bench: skipped, ${missing}\n`);
    return;
  }
  buildOnce();
  const probeFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mia-loop-probe-')), 'delays.txt');
  const probe = path.join(__dirname, 'support', 'loop-probe.js');
  // MIA_BENCH_CPU_PROF_DIR: also write a CPU profile of the Node-RED process over the redeploys there.
  const profDir = process.env.MIA_BENCH_CPU_PROF_DIR;
  if (profDir) process.env.MIA_PROBE_CPU_PROF_DIR = profDir;
  let profileStep = 0;
  const toggleProfile = (): void => {
    if (profDir) fs.writeFileSync(path.join(profDir, profileStep++ === 0 ? 'start' : 'stop'), '');
  };
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${probe}`.trim();
  process.env.MIA_BENCH_EPOCH = String(BENCH_EPOCH);
  process.env.MIA_LOOP_PROBE_FILE = probeFile;
  const pipeline = JSON.parse(fs.readFileSync(path.join(repoRoot, 'flows', 'mia-ia-pipeline.json'), 'utf8')) as FlowNode[];
  const nodeRed = await startNodeRed(pipeline);
  delete process.env.MIA_LOOP_PROBE_FILE; // Chromium and the rest of this process are not probed
  delete process.env.MIA_PROBE_CPU_PROF_DIR;
  const browser = await openChromium();
  try {
    const page = browser.page;
    await page.goto(`${nodeRed.url}/dashboard`);
    await page.locator('#nrdb-ui-widget-mia_chart_price canvas').first().waitFor({ state: 'visible', timeout: 60_000 });
    await sleep(WARM_MS);
    const steadyFrom = Date.now();
    await sleep(STEADY_MS);
    const steadyTo = Date.now();
    toggleProfile();
    const deployMs: number[] = [];
    for (let k = 0; k < REDEPLOYS; k++) {
      const t = performance.now();
      await nodeRed.deploy(pipeline);
      deployMs.push(performance.now() - t);
      await sleep(BETWEEN_MS);
    }
    const redeployTo = Date.now();
    toggleProfile();
    const pricePoints = await page.evaluate(
      `(document.querySelector('#app').__vue_app__.config.globalProperties.$store.state.data.messages.mia_chart_price || []).length`,
    );
    await sleep(500); // the probe's last lines reach the file
    const steady = samples(probeFile, steadyFrom, steadyTo);
    if (profDir) fs.copyFileSync(probeFile, path.join(profDir, `delays-${steadyFrom}-${steadyTo}-${redeployTo}.txt`));
    const redeploy = samples(probeFile, steadyTo, redeployTo);
    if (steady.length < 100 || redeploy.length < 100) throw new Error(`too few loop-delay samples (${steady.length}, ${redeploy.length}): is the probe loaded?`);
    const max = (xs: number[]) => xs[xs.length - 1]!;
    const note = `${REDEPLOYS} full deploys ${BETWEEN_MS / 1000} s apart, dashboard open (${String(pricePoints)} price-chart points in the page after); deploy answered in p50 ${percentile([...deployMs].sort((a, b) => a - b), 50).toFixed(0)} ms; steady p99 ${percentile(steady, 99).toFixed(1)} ms, max ${max(steady).toFixed(1)} ms over ${(STEADY_MS / 1000).toFixed(0)} s; over the redeploys p50 ${percentile(redeploy, 50).toFixed(1)} ms, p99 ${percentile(redeploy, 99).toFixed(1)} ms, max ${max(redeploy).toFixed(1)} ms`;
    report({ id: 'redeploy.loop_delay.p99', value: percentile(redeploy, 99), unit: 'ms', baseline: percentile(steady, 99), goal: 'small', note });
    report({ id: 'redeploy.loop_delay.max', value: max(redeploy), unit: 'ms', baseline: max(steady), goal: '≤ 200 ms', note });
  } catch (err) {
    process.stderr.write(`Node-RED said:\n${nodeRed.output().slice(-4000)}\n`);
    throw err;
  } finally {
    await browser.close();
    await nodeRed.stop();
    fs.rmSync(path.dirname(probeFile), { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
