// Drives the FiftyOne App in Debian's chromium (playwright-core) like a user:
// opens the operator browser with the backtick key, runs DsCo operators from
// their forms and reads their results back from the page.
//
//   node app_operators.js <app url> <dataset> <run key> <screenshot dir>
//
// Prints one JSON line with what the page showed; exits non-zero on failure.
// tests/test_app.py runs it and checks the JSON against the database.
'use strict';

const { T, PRIMARY, primaryButton, shooter, runOnDataset } = require('./common');

const [url, dataset, runKey, shots] = process.argv.slice(2);
const shot = shooter(shots);

// The operator prompt (a form, or a result once it holds a Close button).
function prompt(page, buttonName) {
  return page.locator('[data-cy="operators-prompt-modal"]')
    .filter({ has: page.getByRole('button', { name: buttonName, exact: true }) });
}

// Waits until the form has resolved (its Execute or Schedule button is enabled).
async function settled(page, form) {
  const button = primaryButton(form);
  for (let i = 0; i < T / 250; i++) {
    if (await button.isEnabled()) return;
    await page.waitForTimeout(250);
  }
  throw new Error('the form never became executable');
}

async function openOperator(page, label) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('`'); // the App's hotkey for the operator browser
  await page.getByPlaceholder(/search operations/i).waitFor({ timeout: T });
  await page.keyboard.type('DsCo');
  const item = page.getByText(label, { exact: true });
  await item.waitFor({ timeout: T });
  return item;
}

runOnDataset('operators', url, dataset, shots, { width: 1200, height: 760 }, async (page, out) => {
  await page.locator('[data-cy="selector-dataset"]').waitFor({ timeout: T });

  // 1. the operator browser, filtered to DsCo's operators
  const item = await openOperator(page, 'DsCo: manage runs');
  out.operator_browser = await page.getByText(/^DsCo: /).allInnerTexts();
  out.screenshots.push(await shot(page, 'operator-browser.png'));

  // 2. manage runs -> inspect <run key>: the run's config and results show in the App
  await item.click();
  const inspect = page.getByLabel('inspect', { exact: true });
  await inspect.waitFor({ timeout: T });
  await inspect.check();
  await page.getByText('Run', { exact: true }).waitFor({ timeout: T });
  const form = prompt(page, 'Execute');
  // pick the run from the dropdown (MUI select: open it, click the option)
  await form.getByRole('combobox').last().click();
  await page.getByRole('option', { name: new RegExp(`^${runKey}`) }).click();
  await settled(page, form);
  out.screenshots.push(await shot(form, 'manage-runs-form.png'));
  await form.getByRole('button', { name: 'Execute', exact: true }).click();
  const result = prompt(page, 'Close');
  await result.getByText('Results', { exact: true }).waitFor({ timeout: T });
  out.manage_runs_result = await result.innerText();
  out.screenshots.push(await shot(result, 'manage-runs-result.png'));
  await result.getByRole('button', { name: 'Close', exact: true }).click();

  // 3. the synthesize form: prior picker with its card, size preview from the budget
  //    (a tall window, so that the whole form fits in its screenshot)
  await page.setViewportSize({ width: 1200, height: 1700 });
  await (await openOperator(page, 'DsCo: synthesize (NOpt or plain)')).click();
  const synth = prompt(page, PRIMARY);
  await synth.getByText(/the set will have/).waitFor({ timeout: T });
  await settled(page, synth);
  out.synthesize_form = await synth.innerText();
  out.synthesize_inputs = await synth.locator('input').evaluateAll((els) => els.map((e) => e.value));
  out.screenshots.push(await shot(synth, 'synthesize-form.png'));
  await synth.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.setViewportSize({ width: 1200, height: 760 });

  // 4. load built-in dataset (2 train + 1 test per class): the App opens it
  await (await openOperator(page, 'DsCo: load built-in dataset')).click();
  const load = prompt(page, 'Execute');
  const nums = load.locator('input[type="number"]');
  await nums.nth(0).fill('2');
  await nums.nth(1).fill('1');
  await settled(page, load);
  out.screenshots.push(await shot(load, 'load-builtin-form.png'));
  await load.getByRole('button', { name: 'Execute', exact: true }).click();
  const loaded = prompt(page, 'Close');
  await loaded.getByText('Dataset loaded').waitFor({ timeout: T });
  await page.waitForURL(/\/datasets\/dsco-digits-2x1/, { timeout: T });
  out.load_result = await loaded.innerText();
  out.screenshots.push(await shot(loaded, 'load-builtin-result.png'));
  await loaded.getByRole('button', { name: 'Close', exact: true }).click();
  const counts = page.locator('[data-cy="entry-counts"]');
  await counts.filter({ hasText: /\b30\b/ }).waitFor({ timeout: T });
  out.entry_counts = await counts.innerText();
  await page.mouse.move(5, 750); // no hover effect on a sample
  await page.waitForTimeout(3000); // let the grid draw its images
  out.screenshots.push(await shot(page, 'load-builtin-app.png'));
  out.url = page.url();
  out.dataset_selector = await page.locator('[data-cy="selector-dataset"]').inputValue();
});
