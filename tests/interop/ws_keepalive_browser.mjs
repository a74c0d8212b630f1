#!/usr/bin/env node
// Keepalive against Chromium: the `echo` example is started with short
// intervals (WS_PING_MS, WS_PONG_TIMEOUT_MS; interop.sh passes the same
// values here). Debian's chromium, driven headless by playwright-core, opens
// ws://<same host>/ws, stays idle for 3 ping intervals (the browser answers
// the server's Pings by itself; a page cannot see them), and must still be
// open and echo a message afterwards.
//
// Usage: ADDR=127.0.0.1:3000 WS_PING_MS=500 node tests/interop/ws_keepalive_browser.mjs
// Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
// playwright-core or chromium is missing (1 under CI=true).
import { launch, loadChromium, overallTimeout } from './browser.mjs';

const NAME = 'ws_keepalive_browser.mjs';
const ADDR = process.env.ADDR || '127.0.0.1:3000';
const INTERVAL_MS = Number(process.env.WS_PING_MS);

if (!(INTERVAL_MS > 0)) {
  console.log(`FAIL ${NAME}: WS_PING_MS is not set: start echo with it and pass it here`);
  process.exit(1);
}
const chromium = loadChromium(NAME);

const killer = overallTimeout(NAME, 60000 + 3 * INTERVAL_MS, '60s');
const browser = await launch(NAME, chromium);
let failed = 0;
try {
  const page = await (await browser.newContext()).newPage();
  const res = await page.goto(`http://${ADDR}/`, { timeout: 10000 });
  if (!res || res.status() !== 200) throw new Error(`GET /: HTTP ${res && res.status()}`);
  const result = await page.evaluate((idleMs) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    let closed = null;
    ws.onclose = (e) => { closed = `${e.code} ${e.reason}`; };
    ws.onerror = () => { closed = closed || 'error'; };
    ws.onopen = () => setTimeout(() => {
      if (closed || ws.readyState !== WebSocket.OPEN) {
        resolve({ ok: false, why: `closed during the idle time: ${closed} (readyState ${ws.readyState})` });
        return;
      }
      ws.onmessage = (e) => { ws.close(1000); resolve({ ok: e.data === 'still here', why: `echo ${e.data}` }); };
      ws.send('still here');
      setTimeout(() => resolve({ ok: false, why: `no echo after the idle time (${closed})` }), 10000);
    }, idleMs);
  }), 3 * INTERVAL_MS + INTERVAL_MS / 2);
  if (!result.ok) throw new Error(result.why);
  console.log(`ok ${NAME}:open_through_3_intervals idle ${3.5 * INTERVAL_MS} ms with pings every ${INTERVAL_MS} ms, echo ok`);
} catch (e) {
  failed++;
  console.log(`FAIL ${NAME}:open_through_3_intervals: ${e.message.split('\n')[0]}`);
} finally {
  clearTimeout(killer);
  await browser.close();
}
process.exit(failed ? 1 : 0);
