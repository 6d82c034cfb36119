// Drives the DsCo panel of the FiftyOne App in Debian's chromium (playwright-core):
// opens it from the "+" next to the panel tabs, reads its runs table, charts (evaluations,
// a budget search's answer and curve), real-vs-synthetic grid, picks another class, opens
// a run's saved view, deletes a run through its confirmation, and checks that bad forms
// keep Execute (or Schedule) disabled.
//
//   node app_panel.js <app url> <dataset> <run key> <saved view> <eval key> <screenshot dir>
//
// Prints one JSON line with what the page showed; exits non-zero on failure.
// tests/test_app.py runs it and checks the JSON against the database.
'use strict';

const { T, clipper, primaryButton, shooter, openPanel, openSavedView, runOnDataset } =
  require('./common');

const [url, dataset, runKey, savedView, evalKey, shots, viewCount] = process.argv.slice(2);
const shot = shooter(shots);
const shotAround = clipper(shots);

// The images of one side of the grid, once every one of them has loaded from /media.
async function images(panel, side) {
  const imgs = panel.locator(`img[alt^="${side} "]`);
  await imgs.first().waitFor({ timeout: T });
  await panel.page().waitForFunction((s) => [...document.querySelectorAll(`img[alt^="${s} "]`)]
    .every((i) => i.complete && i.naturalWidth > 0), side, { timeout: T });
  return imgs.evaluateAll((els) => els.map((e) => new URL(e.src).searchParams.get('filepath')));
}

async function openOperator(page, label) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('`');
  await page.getByPlaceholder(/search operations/i).waitFor({ timeout: T });
  await page.keyboard.type('DsCo');
  await page.getByText(label, { exact: true }).click();
  return page.locator('[data-cy="operators-prompt-modal"]');
}

// The input under a form field's label.
function field(form, label) {
  return form.getByText(label, { exact: true }).first().locator('xpath=following::input[1]');
}

// Fills a form field, then waits for the resolved form to show `message`.
async function blocked(page, form, label, value, message) {
  await field(form, label).fill(value);
  await form.getByText(message).first().waitFor({ timeout: T });
  await page.waitForTimeout(1000); // the last resolve-type answer has landed
  return primaryButton(form).isDisabled();
}

runOnDataset('panel', url, dataset, shots, { width: 1600, height: 1200 }, async (page, out) => {

  // 1. open the panel: "+" next to the panel tabs -> DsCo (the session may have it open)
  const panel = await openPanel(page);
  await panel.getByText('Real train images').waitFor({ timeout: T });

  // 2. runs table, charts (Plotly draws legends), real vs synthetic grid
  out.runs_table = await panel.locator('table').first().innerText();
  await panel.locator('.js-plotly-plot').nth(3).waitFor({ timeout: T });
  out.search_answer = await panel.getByText(/Smallest budget with no loss/).first().innerText();
  out.plots = await panel.locator('.js-plotly-plot').evaluateAll((els) => els.map((e) => ({
    traces: e.data.map((t) => ({ name: t.name, type: t.type, x: t.x, y: t.y })) })));
  out.synthetic = await images(panel, 'synthetic');
  out.real = await images(panel, 'real');
  await page.mouse.move(5, 5);
  await panel.locator('table').first().evaluate((e) => e.scrollIntoView());
  out.screenshots.push(await shot(page, 'panel.png'));
  await panel.getByText('real vs synthetic images').first().evaluate((e) => e.scrollIntoView());
  out.screenshots.push(await shot(panel, 'panel-grid.png'));

  // 3. another class from the dropdown: the grid follows
  const before = out.synthetic[0];
  const dropdown = panel.getByRole('combobox').first();
  out.shown_class = (await dropdown.innerText()).trim();
  await dropdown.click();
  const options = (await page.getByRole('option').allInnerTexts()).map((o) => o.trim());
  out.picked_class = options.find((o) => o !== out.shown_class);
  await page.getByRole('option', { name: out.picked_class, exact: true }).click();
  await page.waitForFunction((f) => {
    const img = document.querySelector('img[alt="synthetic 1"]');
    return img && new URL(img.src).searchParams.get('filepath') !== f;
  }, before, { timeout: T });
  out.synthetic_picked = await images(panel, 'synthetic');
  out.real_picked = await images(panel, 'real');

  // 4. delete with confirmation: Cancel keeps the run, Yes deletes it
  const del = panel.getByRole('button', { name: `Delete ${evalKey}`, exact: true });
  await del.click();
  await panel.getByText(`Delete run '${evalKey}'?`).waitFor({ timeout: T });
  out.screenshots.push(await shotAround(page, [panel.getByText(`Delete run '${evalKey}'?`),
    panel.getByRole('button', { name: 'Cancel', exact: true })], 'panel-delete-confirm.png'));
  await panel.getByRole('button', { name: 'Cancel', exact: true }).click();
  await del.waitFor({ timeout: T });
  out.cancel_kept = (await panel.getByText(`Delete run '${evalKey}'?`).count()) === 0;
  await del.click();
  await panel.getByRole('button', { name: `Yes, delete ${evalKey}`, exact: true }).click();
  await panel.locator('table').first().filter({ hasNotText: evalKey }).waitFor({ timeout: T });
  out.runs_table_after_delete = await panel.locator('table').first().innerText();

  // 5. bad forms keep Execute / Schedule disabled: IPC 0; a taken run key with other options
  await page.setViewportSize({ width: 1600, height: 1800 }); // the whole form in view
  const form = await openOperator(page, 'DsCo: synthesize (NOpt or plain)');
  await form.getByText('Label field', { exact: true }).waitFor({ timeout: T });
  const whole = form.getByText('Entire dataset', { exact: true }); // offered under a view
  if (await whole.count()) await whole.click();
  await form.getByText(/the set will have/).waitFor({ timeout: T });
  out.ipc0_disabled = await blocked(page, form, 'Images per class (IPC)', '0',
    'Images per class must be >= 1');
  out.screenshots.push(await shot(form, 'synthesize-ipc0.png'));
  await field(form, 'Images per class (IPC)').fill('2');
  await form.getByText('= 2 synthetic per class').waitFor({ timeout: T });
  out.taken_disabled = await blocked(page, form, 'Run key', runKey,
    `Run '${runKey}' exists with`);
  out.taken_form = await form.innerText();
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.setViewportSize({ width: 1600, height: 1200 });

  // 6. Open <saved view>: the App's view becomes the run's saved view
  Object.assign(out, await openSavedView(page, panel, savedView, viewCount));
});
