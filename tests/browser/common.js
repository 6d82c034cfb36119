// Shared by the browser tests: how chromium is started, the timeout, logging and screenshots.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const T = 60000;

// A form's primary button: "Execute", or "Schedule" where the operator defaults to
// delegated execution and this FiftyOne allows it (setup.sh turns that on).
const PRIMARY = /^(Execute|Schedule)$/;
function primaryButton(form) { return form.getByRole('button', { name: PRIMARY }); }

function log(msg) { process.stderr.write(`[browser] ${msg}\n`); }

// shooter(dir)(locator, name): a screenshot of `locator` saved as dir/name; returns its path.
function shooter(dir) {
  return async (locator, name) => {
    const file = path.join(dir, name);
    await locator.screenshot({ path: file, animations: 'disabled' });
    log(`screenshot ${file}`);
    return file;
  };
}

// clipper(dir)(page, locators, name): a screenshot of the page around `locators` (the union
// of their boxes, 8 px margin) saved as dir/name; returns its path.
function clipper(dir) {
  return async (page, locators, name) => {
    const boxes = await Promise.all(locators.map((l) => l.boundingBox()));
    const x = Math.min(...boxes.map((b) => b.x)) - 8;
    const y = Math.min(...boxes.map((b) => b.y)) - 8;
    const clip = { x, y, width: Math.max(...boxes.map((b) => b.x + b.width)) + 8 - x,
      height: Math.max(...boxes.map((b) => b.y + b.height)) + 8 - y };
    const file = path.join(dir, name);
    await page.screenshot({ path: file, clip, animations: 'disabled' });
    log(`screenshot ${file}`);
    return file;
  };
}

// run(main): print what the test body `main` returns as one JSON line; on failure log it, exit 1.
function run(main) {
  main().then((out) => process.stdout.write(JSON.stringify(out) + '\n'), (e) => {
    process.stderr.write(`[browser] FAILED: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}

// A screenshot of the whole page when a test body fails: os.tmpdir()/dsco-<name>-failure.png.
async function failureShot(page, name) {
  if (!page) return;
  const file = path.join(require('os').tmpdir(), `dsco-${name}-failure.png`);
  await page.screenshot({ path: file }).then(() => log(`page at failure: ${file}`), () => {});
}

// A new page on the App's dataset, once its samples tab is up (and the welcome toast dismissed).
async function openDataset(browser, url, dataset, viewport) {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => log(`pageerror ${String(e).slice(0, 200)}`));
  await page.goto(`${url}/datasets/${encodeURIComponent(dataset)}`,
    { waitUntil: 'domcontentloaded', timeout: T });
  await page.locator('[data-cy="panel-tab-samples"]').waitFor({ timeout: T });
  await page.getByText('Dismiss', { exact: true }).click({ timeout: 15000 }).catch(() => {});
  return page;
}

// Opens the DsCo panel from the "+" next to the panel tabs (the session may have it open);
// returns it once its runs table shows.
async function openPanel(page) {
  await page.keyboard.press('Escape');
  if (await page.locator('[data-cy="panel-tab-dsco_panel"]').count() === 0) {
    await page.locator('[data-cy="new-panel-btn"]').first().click();
    await page.locator('[data-cy="new-panel-option-dsco_panel"]').click();
  }
  await page.locator('[data-cy="panel-tab-dsco_panel"]').click();
  const panel = page.locator('[data-cy="panel-content-dsco_panel"]');
  await panel.locator('table').first().waitFor({ timeout: T });
  return panel;
}

// Clicks the panel's "Open <savedView>"; returns the App's URL and sample count after it.
// With ``count`` (the view's size, when the caller knows it) it waits for the count to show
// it: on a loaded machine the grid's count updates seconds after the URL.
async function openSavedView(page, panel, savedView, count) {
  await panel.getByRole('button', { name: `Open ${savedView}`, exact: true }).click();
  await page.waitForURL(new RegExp(`[?&]view=${savedView}`), { timeout: T });
  const url = page.url();
  await page.locator('[data-cy="panel-tab-samples"]').click();
  const counts = page.locator('[data-cy="entry-counts"]');
  if (count) {
    await counts.filter({ hasText: new RegExp(`^\\s*${count}\\b`) }).waitFor({ timeout: T })
      .catch(() => {}); // the caller's assertion reports the count that showed
  } else {
    await counts.waitFor({ timeout: T });
    await page.waitForTimeout(2000);
  }
  return { url, entry_counts: await counts.innerText() };
}

// The body of a browser test: chromium on the App's ``dataset`` in a ``viewport``-sized page;
// ``body(page, out)`` fills ``out`` (``out.screenshots`` starts empty), which is printed as
// one JSON line (see run). On failure the page is saved as dsco-<name>-failure.png.
function runOnDataset(name, url, dataset, shots, viewport, body) {
  run(async () => {
    require('fs').mkdirSync(shots, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: T });
    const out = { screenshots: [] };
    let page;
    try {
      page = await openDataset(browser, url, dataset, viewport);
      await body(page, out);
    } catch (e) {
      await failureShot(page, name);
      throw e;
    } finally {
      await browser.close();
    }
    return out;
  });
}

module.exports = { chromium, CHROMIUM, ARGS, T, PRIMARY, clipper, failureShot, log, openDataset,
  openPanel, openSavedView, primaryButton, run, runOnDataset, shooter };
