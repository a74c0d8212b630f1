#!/usr/bin/env node
// Interop client for the `echo` example started with WS_DEFLATE=1: Debian's
// chromium, driven headless by playwright-core, loads the echo page (so the
// default same-origin policy admits it), opens ws://<same host>/ws and checks
// that permessage-deflate was negotiated (Chromium offers
// `permessage-deflate; client_max_window_bits`) and that text and binary
// messages, small and large, come back intact.
//
// Usage: ADDR=127.0.0.1:3000 node tests/interop/deflate_browser.mjs
// Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
// playwright-core or chromium is missing (1 under CI=true).
import { CHROMIUM, checks, launch, loadChromium, overallTimeout } from './browser.mjs';

const NAME = 'deflate_browser.mjs';
const ADDR = process.env.ADDR || '127.0.0.1:3000';
const TIMEOUT = 10000;

const chromium = loadChromium(NAME);
const { check, failed } = checks(NAME);

console.log(`# ${NAME}: ${CHROMIUM} against http://${ADDR}/`);
const killer = overallTimeout(NAME, 60000, '60s');
const browser = await launch(NAME, chromium);
try {
  const page = await (await browser.newContext()).newPage();
  const loaded = await check('page', async () => {
    const res = await page.goto(`http://${ADDR}/`, { timeout: TIMEOUT });
    if (!res || res.status() !== 200) throw new Error(`GET /: HTTP ${res && res.status()}`);
  });
  let opened = false;
  if (loaded) {
    opened = await check('extension_negotiated', async () => {
      const extensions = await page.evaluate(() => new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.binaryType = 'arraybuffer';
        window.ws = ws;
        ws.onopen = () => resolve(ws.extensions);
        ws.onerror = () => reject(new Error('the WebSocket failed to open'));
      }));
      if (!/^permessage-deflate\b/.test(extensions)) {
        throw new Error(`ws.extensions is ${JSON.stringify(extensions)}, expected permessage-deflate`);
      }
      console.log(`# negotiated: ${extensions}`);
    });
  }
  if (opened) {
    // Each message is sent and must come back byte for byte; the large ones
    // span several deflate blocks, the repeated ones use the context.
    await check('messages_exchanged', async () => {
      const result = await page.evaluate(async () => {
        const ws = window.ws;
        const json = (i, n) => JSON.stringify(Array.from({ length: n }, (_, k) => (
          { id: i * 1000 + k, user: `user-${k % 17}`, status: 'online', text: 'héllo ✓' })));
        const random = (n) => {
          const bytes = new Uint8Array(n);
          for (let k = 0; k < n; k += 65536) crypto.getRandomValues(bytes.subarray(k, Math.min(n, k + 65536)));
          return bytes;
        };
        const messages = ['hello', '', json(1, 10), json(2, 10), json(3, 2000), random(100), random(200000),
          new Uint8Array(300000).fill(42)];
        const received = [];
        const done = new Promise((resolve, reject) => {
          ws.onmessage = (e) => { received.push(e.data); if (received.length === messages.length) resolve(); };
          ws.onclose = (e) => reject(new Error(`closed early: ${e.code} ${e.reason}`));
        });
        for (const m of messages) ws.send(m);
        await done;
        const same = (a, b) => {
          if (typeof a === 'string') return a === b;
          const x = new Uint8Array(b);
          return x.length === a.length && x.every((v, k) => v === a[k]);
        };
        const bad = messages.map((m, k) => same(m, received[k]) ? null : k).filter((k) => k !== null);
        return { count: received.length, bad, bytes: messages.reduce((n, m) => n + (m.length ?? 0), 0) };
      });
      if (result.bad.length) throw new Error(`messages ${result.bad.join(', ')} came back different`);
      console.log(`# ${result.count} messages (${result.bytes} bytes) echoed intact`);
    });
    await check('clean_close', async () => {
      const code = await page.evaluate(() => new Promise((resolve) => {
        window.ws.onclose = (e) => resolve(e.code);
        window.ws.close(1000, 'done');
      }));
      if (code !== 1000) throw new Error(`close code ${code}, expected 1000`);
    });
  }
} finally {
  clearTimeout(killer);
  await browser.close();
}
process.exit(failed() ? 1 : 0);
