// Debian's Chromium driven by playwright-core: headless, a fresh empty profile, nothing beyond loopback.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../tools/local-node-red';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Where screenshots go, for a person to look at after the run. */
export const SCREENSHOT_DIR = path.join(repoRoot, 'test-output', 'e2e');

export interface OpenChromium {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught exceptions thrown in the page since it opened (an editor script error shows up here). */
  readonly pageErrors: string[];
  /** Saves a full-page screenshot as test-output/e2e/<name>.png and returns its path. */
  screenshot(name: string, target?: Page): Promise<string>;
  close(): Promise<void>;
}

/**
 * How long a Playwright wait that names no timeout of its own may last (goto, reload, locator.waitFor,
 * waitForFunction): the running test's own mocha timeout less a second, so that on a busy machine a slow page load
 * uses the test's budget rather than a shorter fixed guess, and a wait that never ends still fails with Playwright's
 * message (what it waited for) just before mocha's. In a before hook (Chromium launch, the first editor load) no test
 * is running: the wait is bounded by the hook's own timeout.
 */
const openContexts = new Set<BrowserContext>();
let waitBudgetMs = 0; // 0: Playwright sets no limit of its own
const WAIT_MARGIN_MS = 1000;

// Outside mocha (test/bench/redeploy.bench.ts opens Chromium too) there is no test budget: no Playwright limit.
if (typeof beforeEach === 'function' && typeof afterEach === 'function') {
  beforeEach(function () {
    const timeout = this.currentTest?.timeout() ?? 0;
    waitBudgetMs = timeout > WAIT_MARGIN_MS ? timeout - WAIT_MARGIN_MS : 0;
    for (const context of openContexts) context.setDefaultTimeout(waitBudgetMs);
  });
  afterEach(() => {
    waitBudgetMs = 0;
    for (const context of openContexts) context.setDefaultTimeout(0);
  });
}

export async function openChromium(): Promise<OpenChromium> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 0, // bounded by the calling hook's own mocha timeout
  });
  context.setDefaultTimeout(waitBudgetMs);
  openContexts.add(context);
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    page,
    pageErrors,
    async screenshot(name: string, target: Page = page): Promise<string> {
      const file = path.join(SCREENSHOT_DIR, `${name}.png`);
      await target.screenshot({ path: file });
      return file;
    },
    async close(): Promise<void> {
      openContexts.delete(context);
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Chromium is installed by the CI script with apt-get; say so plainly when it is missing. */
export function chromiumMissing(): string | null {
  return fs.existsSync(CHROMIUM_PATH) ? null : `${CHROMIUM_PATH} is missing (apt-get install chromium)`;
}
