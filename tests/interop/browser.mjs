// Headless Chromium for the browser interop clients (chat_browser.mjs,
// chat_live.mjs, deflate_browser.mjs, nginx_browser.mjs,
// ws_keepalive_browser.mjs): Debian's chromium, driven by playwright-core
// from tests/interop/node (scripts/install-peers.sh installs both).
//
// Each client prints `ok <check>` or `FAIL <check>: reason`; a missing
// playwright-core or chromium is `skip` and exit 77 (`FAIL` and exit 1 under
// CI=true). Env: CHROMIUM, the browser's path (default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The flags every client but nginx_browser.mjs launches with. playwright
// makes a fresh, temporary user-data-dir for each launch.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const here = dirname(fileURLToPath(import.meta.url));

function missing(name, what) {
  const ci = process.env.CI === 'true';
  console.log(`${ci ? 'FAIL' : 'skip'} ${name}: ${what}; run scripts/install-peers.sh`);
  process.exit(ci ? 1 : 77);
}

// playwright-core's `chromium`; exits (skip, or FAIL under CI=true) if
// playwright-core or the chromium binary is missing.
export function loadChromium(name) {
  let chromium;
  try {
    ({ chromium } = createRequire(join(here, 'node', 'package.json'))('playwright-core'));
  } catch (e) {
    missing(name, `node package playwright-core missing (${e.code || e.message})`);
  }
  if (!existsSync(CHROMIUM)) missing(name, `${CHROMIUM} not found (Debian package chromium)`);
  return chromium;
}

// Launches `chromium` (from loadChromium) with CHROMIUM_ARGS and a 30 s
// launch timeout; `options` override them (playwright's launch options).
// If it does not start: `FAIL <name>:launch` and exit 1.
export async function launch(name, chromium, options = {}) {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, timeout: 30000, args: CHROMIUM_ARGS, ...options });
  } catch (e) {
    console.log(`FAIL ${name}:launch: ${CHROMIUM} did not start: ${e.message.split('\n')[0]}`);
    process.exit(1);
  }
}

// Ends the process with `FAIL <name>: overall timeout (<label>)` after `ms`;
// clear the returned timer when done.
export function overallTimeout(name, ms, label) {
  return setTimeout(() => { console.log(`FAIL ${name}: overall timeout (${label})`); process.exit(1); }, ms);
}

// `check(name, fn)` runs one check and prints its line; `failed()` counts
// the failures so far.
export function checks(name) {
  let failures = 0;
  async function check(checkName, fn) {
    try {
      await fn();
      console.log(`ok ${name}:${checkName}`);
      return true;
    } catch (e) {
      failures++;
      console.log(`FAIL ${name}:${checkName}: ${e.message.split('\n')[0]}`);
      return false;
    }
  }
  return { check, failed: () => failures };
}

// Collects the page's uncaught errors in `page.errors` (and its console
// errors too with `{ console: true }`), for failure messages.
export function collectErrors(page, { console: consoleErrors = false } = {}) {
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  if (consoleErrors) page.on('console', (m) => m.type() === 'error' && page.errors.push(m.text()));
  return page;
}
