#!/usr/bin/env node
// Interop client for the `chat` example: Debian's chromium, driven headless by
// playwright-core, loads the chat page in three tabs (two in room `test`, one in
// room `other`) and checks messages reach the right room only.
//
// The page must: read `?room=` from its URL, open ws://<host>/ws?room=NAME, set
// <body data-ready="1"> once the WebSocket is open, send the text of
// <input id="message"> on click of <button id="send"> (or Enter), and append each
// received message to the element with id `log`.
//
// Usage: ADDR=127.0.0.1:3000 node tests/interop/chat_browser.mjs
// Screenshot: $INTEROP_OUT/chat.png (default target/interop/chat.png).
// Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
// playwright-core or chromium is missing (1 under CI=true).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, checks, collectErrors, launch, loadChromium, overallTimeout } from './browser.mjs';

const NAME = 'chat_browser.mjs';
const ADDR = process.env.ADDR || '127.0.0.1:3000';
const TIMEOUT = 10000;
const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.env.INTEROP_OUT || join(here, '..', '..', 'target', 'interop');

const chromium = loadChromium(NAME);
const { check, failed } = checks(NAME);

async function openRoom(context, room) {
  const page = collectErrors(await context.newPage(), { console: true });
  const res = await page.goto(`http://${ADDR}/?room=${room}`, { timeout: TIMEOUT });
  if (!res || res.status() !== 200) throw new Error(`GET /?room=${room}: HTTP ${res && res.status()}`);
  try {
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: TIMEOUT });
  } catch {
    throw new Error(`room ${room}: body never got data-ready="1" (page errors: ${JSON.stringify(page.errors)})`);
  }
  return page;
}

const logText = (page) => page.locator('#log').innerText({ timeout: TIMEOUT });

async function waitForText(page, text, who) {
  try {
    await page.waitForFunction((t) => document.getElementById('log')?.textContent.includes(t), text, { timeout: TIMEOUT });
  } catch {
    throw new Error(`${who} never showed ${JSON.stringify(text)}; its log: ${JSON.stringify(await logText(page).catch(() => '?'))}`);
  }
}

console.log(`# ${NAME}: ${CHROMIUM} against http://${ADDR}/`);
const killer = overallTimeout(NAME, 90000, '90s');
const browser = await launch(NAME, chromium);
try {
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  let a, b, c;
  const ready = await check('tabs_ready', async () => {
    [a, b, c] = [await openRoom(context, 'test'), await openRoom(context, 'test'), await openRoom(context, 'other')];
  });
  if (ready) {
    const token = `hello-${process.pid}-${Date.now()} ✓`;
    await check('send_click', async () => {
      await a.fill('#message', token);
      await a.click('#send');
      await waitForText(b, token, 'tab B (room test)');
    });
    await check('room_isolation', async () => {
      await c.waitForTimeout(1000);
      const log = await logText(c);
      if (log.includes(token)) throw new Error(`tab C (room other) received a message sent to room test: ${JSON.stringify(log)}`);
    });
    const token2 = `réply-${process.pid}-${Date.now()}`;
    await check('send_enter', async () => {
      await b.fill('#message', token2);
      await b.press('#message', 'Enter');
      await waitForText(a, token2, 'tab A (room test)');
    });
    mkdirSync(outDir, { recursive: true });
    await b.screenshot({ path: join(outDir, 'chat.png'), fullPage: true });
    console.log(`# screenshot: ${join(outDir, 'chat.png')}`);
  }
} finally {
  clearTimeout(killer);
  await browser.close();
}
process.exit(failed() ? 1 : 0);
