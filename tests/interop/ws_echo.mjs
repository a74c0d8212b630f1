#!/usr/bin/env node
// Interop client for the `echo` example, using the Node `ws` library.
//
// Usage: ADDR=127.0.0.1:3000 node tests/interop/ws_echo.mjs
// Env: EXPECT_DEFLATE=1 when the server negotiates permessage-deflate (ws
// offers it by default; a server without it must not answer the offer).
// Prints `ok <check>` or `FAIL <check>: reason` per check; exits 1 if any failed,
// 77 if `ws` is not installed (1 under CI=true).
import { createRequire } from 'node:module';

const NAME = 'ws_echo.mjs';
const ADDR = process.env.ADDR || '127.0.0.1:3000';
const URL = `ws://${ADDR}/ws`;
const TIMEOUT = 5000;

let WebSocket;
try {
  // Dependencies live in tests/interop/node (npm ci by scripts/install-peers.sh).
  WebSocket = createRequire(new globalThis.URL('./node/package.json', import.meta.url))('ws');
} catch (e) {
  const ci = process.env.CI === 'true';
  console.log(`${ci ? 'FAIL' : 'skip'} ${NAME}: node package ws missing (${e.code || e.message}); run scripts/install-peers.sh`);
  process.exit(ci ? 1 : 77);
}

const withTimeout = (promise, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT))]);

function open(protocols) {
  const ws = new WebSocket(URL, protocols, { handshakeTimeout: TIMEOUT });
  const messages = [];
  let waiting = null;
  ws.on('message', (data, isBinary) => {
    messages.push({ data, isBinary });
    if (waiting) waiting();
  });
  ws.next = (what) => withTimeout(new Promise((resolve, reject) => {
    const take = () => { waiting = null; resolve(messages.shift()); };
    if (messages.length) return take();
    waiting = take;
    ws.once('close', (code) => reject(new Error(`connection closed (${code}) while waiting for ${what}`)));
  }), what);
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake rejected: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  }), `handshake with ${URL}`);
}

async function roundtrip(ws, payload, binary) {
  ws.send(payload, { binary });
  const { data, isBinary } = await ws.next(`echo of ${binary ? 'binary' : 'text'} message`);
  if (isBinary !== binary) throw new Error(`sent a ${binary ? 'binary' : 'text'} message, got a ${isBinary ? 'binary' : 'text'} one back`);
  if (!Buffer.from(payload).equals(data)) throw new Error(`sent ${Buffer.from(payload).length} bytes, got ${data.length} different bytes back`);
}

async function close(ws) {
  ws.close(1000);
  const code = await withTimeout(new Promise((resolve) => ws.once('close', resolve)), 'close handshake');
  if (code !== 1000) throw new Error(`close handshake: got code ${code}, expected 1000 (1006 = no close frame)`);
}

const checks = {
  async deflate() {
    const expected = process.env.EXPECT_DEFLATE === '1';
    const ws = await open();
    const agreed = ws.extensions;
    if (expected) {
      if (!agreed.startsWith('permessage-deflate')) throw new Error(`expected permessage-deflate, got ${JSON.stringify(agreed)}`);
      for (let i = 0; i < 5; i++) await roundtrip(ws, JSON.stringify(Array.from({ length: 500 }, (_, n) => ({ n, i, name: 'item' }))), false);
      await roundtrip(ws, Buffer.alloc(200000, 3), true);
    } else if (agreed !== '') {
      throw new Error(`this server must not negotiate extensions, it answered ${JSON.stringify(agreed)}`);
    }
    await close(ws);
  },
  async text() {
    const ws = await open();
    for (const msg of ['hello from node', 'héllo wörld ✓ 🦀']) await roundtrip(ws, msg, false);
    await close(ws);
  },
  async binary() {
    const ws = await open();
    await roundtrip(ws, Uint8Array.from({ length: 256 }, (_, i) => i), true);
    await roundtrip(ws, Buffer.alloc(70000, 7), true);
    await close(ws);
  },
  async subprotocol_echo() {
    const ws = await open(['echo']);
    if (ws.protocol !== 'echo') throw new Error(`offered 'echo', server selected '${ws.protocol}'`);
    await roundtrip(ws, 'with subprotocol', false);
    await close(ws);
  },
};

console.log(`# ${NAME}: node ${process.version} against ${URL}`);
let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    console.log(`ok ${NAME}:${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${NAME}:${name}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
