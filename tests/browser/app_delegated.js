// Schedules a DsCo synthesis from the App's execute menu in Debian's chromium
// (playwright-core), then shows its result in the DsCo panel once a
// `fiftyone delegated launch` worker has run it. On the way, a large IPC shows that
// a large job is offered only as Schedule.
//
//   node app_delegated.js <app url> <dataset> <run key> <its saved view> <large IPC> <screenshot dir>
//
// Prints "scheduled" once the App has queued the operation and waits for a line on
// stdin (tests/test_app.py runs the worker meanwhile); then refreshes the panel,
// opens the run's saved view and prints one JSON line with what the page showed.
'use strict';

const readline = require('readline');
const { T, clipper, primaryButton, openPanel, openSavedView, runOnDataset } = require('./common');

const [url, dataset, runKey, savedView, largeIpc, shots] = process.argv.slice(2);
const shotAround = clipper(shots);

// The input under a form field's label.
function field(form, label) {
  return form.getByText(label, { exact: true }).first().locator('xpath=following::input[1]');
}

// The next line on stdin.
function nextLine() {
  const lines = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) => lines.once('line', (line) => { lines.close(); resolve(line); }));
}

// Waits until the form's primary button is enabled and the last form update has landed.
async function settled(page, form) {
  for (let i = 0; i < T / 250 && !(await primaryButton(form).isEnabled()); i++) {
    await page.waitForTimeout(250);
  }
  await page.waitForTimeout(1000);
}

async function synthesizeForm(page) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('`');
  await page.getByPlaceholder(/search operations/i).waitFor({ timeout: T });
  await page.keyboard.type('DsCo');
  await page.getByText('DsCo: synthesize (NOpt or plain)', { exact: true }).click();
  const form = page.locator('[data-cy="operators-prompt-modal"]');
  await form.getByText(/the set will have/).waitFor({ timeout: T });
  const whole = form.getByText('Entire dataset', { exact: true }); // offered under a view
  if (await whole.count()) await whole.click();
  return form;
}

// A large IPC: the form says why, and the execute menu has only Schedule (no arrow).
async function largeJob(page, form, out) {
  await field(form, 'Images per class (IPC)').fill(largeIpc);
  const notice = form.getByRole('alert').filter({ hasText: /^Large job: / });
  await notice.waitFor({ timeout: T });
  await settled(page, form);
  await notice.scrollIntoViewIfNeeded();
  out.large_notice = await notice.innerText();
  out.large_primary = (await primaryButton(form).innerText()).trim();
  out.large_menu = await primaryButton(form).locator('xpath=following-sibling::button').count();
  out.screenshots.push(await shotAround(page, [notice, primaryButton(form)],
    'synthesize-large.png'));
}

// The synthesize form, filled in for a small plain run (IPC 2, 2 sampler steps); returns
// how many menu arrows follow its primary button.
async function smallJob(page, form) {
  await field(form, 'Images per class (IPC)').fill('2');
  await form.getByText('= 2 synthetic per class').waitFor({ timeout: T });
  await form.getByLabel('plain', { exact: true }).check();
  await field(form, 'Sampler steps').fill('2');
  await field(form, 'Run key').fill(runKey);
  await settled(page, form);
  return primaryButton(form).locator('xpath=following-sibling::button').count(); // 1: a menu
}

runOnDataset('delegated', url, dataset, shots, { width: 1600, height: 1800 }, async (page, out) => {

  // 1. the panel before: the dataset's runs
  const panel = await openPanel(page);
  out.runs_before = await panel.locator('table').first().innerText();

  // 2. synthesize: a large job is only scheduled; a small one -> Schedule (the default
  //    of the execute menu, which also offers Execute): the App queues it
  const form = await synthesizeForm(page);
  await largeJob(page, form, out);
  out.menu = await smallJob(page, form);
  out.primary = (await primaryButton(form).innerText()).trim();
  out.form_disabled = await primaryButton(form).isDisabled();
  await primaryButton(form).click();
  const toast = page.getByText('Operation successfully scheduled');
  await toast.waitFor({ timeout: T });
  out.toast = await toast.innerText();

  // 3. the worker runs it (tests/test_app.py), then the panel's Refresh shows it
  process.stdout.write('scheduled\n');
  out.worker = await nextLine();
  await panel.getByRole('button', { name: 'Refresh', exact: true }).click();
  await panel.locator('table').first().filter({ hasText: runKey }).waitFor({ timeout: T });
  out.runs_after = await panel.locator('table').first().innerText();
  out.buttons = (await panel.getByRole('button').allInnerTexts())
    .map((b) => b.trim().split('\n').pop()); // without the icon's name
  await page.mouse.move(5, 5);
  await page.setViewportSize({ width: 1400, height: 800 });
  const refresh = panel.getByRole('button', { name: 'Refresh', exact: true });
  await refresh.evaluate((e) => e.scrollIntoView());
  out.screenshots.push(await shotAround(page, [refresh, panel.locator('table').first(),
    panel.getByRole('button', { name: `Delete ${runKey}`, exact: true })],
  'panel-delegated.png'));

  // 4. Open <its saved view>: the App shows the run's samples
  Object.assign(out, await openSavedView(page, panel, savedView));
});
