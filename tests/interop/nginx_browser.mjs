#!/usr/bin/env node
// Headless Chromium (playwright-core) loads echo's page through nginx (see
// nginx.sh) and opens ws://<nginx>/ws from it: with MODE=trusted the socket
// opens and echoes; with MODE=untrusted the server refuses it (403), so it
// never opens.
// Env: NGINX_ADDR, MODE. Exits 77 if playwright-core or chromium is missing (1 under CI=true).
import { CHROMIUM, loadChromium } from './browser.mjs';

const NAME = 'nginx_browser.mjs';
const NGINX = process.env.NGINX_ADDR;
const MODE = process.env.MODE || 'trusted';

const chromium = loadChromium(NAME);

// Its own flags (playwright's defaults plus --no-sandbox), not CHROMIUM_ARGS;
// a launch failure is thrown, as before.
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
let ok = false;
try {
  const page = await browser.newPage();
  const res = await page.goto(`http://${NGINX}/`, { timeout: 10000 });
  if (!res || res.status() !== 200) throw new Error(`GET / through nginx: HTTP ${res && res.status()}`);
  const outcome = await page.evaluate(() => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    const timer = setTimeout(() => resolve('timeout'), 10000);
    ws.onopen = () => ws.send('from chromium');
    ws.onmessage = (e) => { clearTimeout(timer); resolve(`echo:${e.data}`); ws.close(); };
    ws.onerror = () => { clearTimeout(timer); resolve('error'); };
  }));
  const want = MODE === 'trusted' ? 'echo:from chromium' : 'error';
  if (outcome !== want) throw new Error(`${MODE}: expected ${want}, got ${outcome}`);
  console.log(`ok ${NAME}:${MODE}: ${outcome}`);
  ok = true;
} catch (e) {
  console.log(`FAIL ${NAME}:${MODE}: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
