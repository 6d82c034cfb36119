// Shared by the browser tests: how chromium is started, the timeout, logging and screenshots.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const T = 60000;

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

module.exports = { chromium, CHROMIUM, ARGS, T, log, shooter };
