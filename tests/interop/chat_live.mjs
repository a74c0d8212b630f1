#!/usr/bin/env node
// Issue 11: the live view of the `chat` example in Debian's chromium, driven
// headless by playwright-core. Two tabs join one room: each shows 2 in the
// room (counts arrive as JSON over the page's own WebSocket); one tab closes
// and the other shows 1. Then three cross-origin handshakes are refused (403)
// and /stats must draw its chart; screenshots of both pages are saved.
//
// Usage: ADDR=127.0.0.1:3000 node tests/interop/chat_live.mjs
// Screenshots: $INTEROP_OUT/chat_live.png and stats.png (default target/interop/).
// Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
// playwright-core or chromium is missing (1 under CI=true).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, checks, collectErrors, launch, loadChromium, overallTimeout } from './browser.mjs';

const NAME = 'chat_live.mjs';
const ADDR = process.env.ADDR || '127.0.0.1:3000';
const TIMEOUT = 10000;
const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.env.INTEROP_OUT || join(here, '..', '..', 'target', 'interop');

const chromium = loadChromium(NAME);
const { check, failed } = checks(NAME);

async function openRoom(context, room) {
  const page = collectErrors(await context.newPage());
  const res = await page.goto(`http://${ADDR}/?room=${room}`, { timeout: TIMEOUT });
  if (!res || res.status() !== 200) throw new Error(`GET /?room=${room}: HTTP ${res && res.status()}`);
  return page;
}

// Waits until the tab's room count (the text a person reads) is `n`.
async function roomCount(page, n, who) {
  try {
    await page.waitForFunction((want) => document.getElementById('room-count')?.textContent === String(want), n, { timeout: TIMEOUT });
  } catch {
    const shown = await page.locator('#presence').innerText({ timeout: TIMEOUT }).catch(() => '?');
    throw new Error(`${who} never showed ${n} in the room; it shows ${JSON.stringify(shown)} (page errors: ${JSON.stringify(page.errors)})`);
  }
}

// A WebSocket handshake from another site's page: the server must answer 403.
function crossOrigin() {
  const [host, port] = ADDR.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/ws', headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Origin: 'http://evil.example' } });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('error', reject);
    req.setTimeout(TIMEOUT, () => req.destroy(new Error('timed out')));
    req.end();
  });
}

console.log(`# ${NAME}: ${CHROMIUM} against http://${ADDR}/`);
const killer = overallTimeout(NAME, 90000, '90s');
const browser = await launch(NAME, chromium);
try {
  mkdirSync(outDir, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const room = `live-${process.pid}`;
  let a, b;
  const two = await check('room_shows_2', async () => {
    a = await openRoom(context, room);
    b = await openRoom(context, room);
    await roomCount(a, 2, 'tab A');
    await roomCount(b, 2, 'tab B');
  });
  if (two) {
    await check('total_shown', async () => {
      const total = Number(await a.locator('#total-count').innerText({ timeout: TIMEOUT }));
      if (!(total >= 2)) throw new Error(`tab A shows ${total} connections on the server, want at least the 2 in its room`);
    });
    await check('room_shows_1_after_close', async () => {
      await b.close();
      await roomCount(a, 1, 'tab A');
    });
    await a.screenshot({ path: join(outDir, 'chat_live.png'), fullPage: true });
    console.log(`# screenshot: ${join(outDir, 'chat_live.png')}`);
  }
  await check('cross_origin_refused', async () => {
    for (let i = 0; i < 3; i++) {
      const status = await crossOrigin();
      if (status !== 403) throw new Error(`cross-origin handshake got ${status}, want 403`);
    }
  });
  await check('stats_chart', async () => {
    const stats = await context.newPage();
    const res = await stats.goto(`http://${ADDR}/stats`, { timeout: TIMEOUT });
    if (!res || res.status() !== 200) throw new Error(`GET /stats: HTTP ${res && res.status()}`);
    // The refusals above land in the next one-second sample.
    await stats.waitForFunction(() => {
      const legend = document.getElementById('legend')?.textContent || '';
      return legend.includes('forbidden_origin') && Number(document.body.dataset.samples) >= 3;
    }, null, { timeout: TIMEOUT + 5000 });
    const lines = await stats.locator('#chart polyline').count();
    if (lines < 3) throw new Error(`the chart has ${lines} lines, want active, accepted and forbidden_origin`);
    await stats.screenshot({ path: join(outDir, 'stats.png'), fullPage: true });
    console.log(`# screenshot: ${join(outDir, 'stats.png')}`);
  });
} finally {
  clearTimeout(killer);
  await browser.close();
}
process.exit(failed() ? 1 : 0);
