#!/usr/bin/env node
// Issue 18: two `chat` instances (a and b) sharing their rooms through Redis,
// behind nginx round robin; started by tests/interop/chat_cluster.sh, which
// passes NGINX_ADDR, A_ADDR, B_ADDR, A_PID, B_PID, REDIS_PID, REDIS_CONF.
//
// Headless Chromium (playwright-core) opens the chat page through nginx until
// two pages sit on each instance (each page shows its instance, from the
// server's welcome message), then:
//   pages_on_both_instances      2 pages on a, 2 on b
//   messages_cross_instances     a message said on a reaches the pages on b, and back
//   presence_counts_every_instance  every page shows 4 in the room (each
//                                instance counts its own members; the page sums)
// Redis killed (SIGKILL) for 5 s while a Node `ws` client publishes ~600
// messages a second of 3 KB on instance a (more, in 5 s, than the backplane's
// outbox holds), read by a `ws` client on a and one on b:
//   local_delivery_during_outage every message published on a during the
//                                outage reached a's reader, and a page's message
//                                reached the other page on a
//   cross_instance_resumes       after Redis is back (same port), b's reader gets
//                                a's messages again, and pages on b a page's message
//   memory_bounded               RSS of both instances (/proc) before, at the peak
//                                during and after the outage, printed; at most
//                                64 MiB over before
// SIGTERM to instance a:
//   sigterm_1001_on_page         each page on a shows Close 1001 and that it reconnects
//   reconnected_to_b             ... and is connected again, through nginx, to b
//   a_exited                     instance a's process ended
//   no_message_lost_after_reconnect  10 messages said after the reconnection,
//                                from every page in turn: each page shows all 10
//   presence_after_failover      every page shows 4 again (a's count forgotten)
//
// Prints `ok <check>` or `FAIL <check>: reason`; exits 1 if any failed, 77 if
// playwright-core or chromium is missing (1 under CI=true).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, checks, collectErrors, launch, loadChromium, overallTimeout } from './browser.mjs';

const NAME = 'chat_cluster.mjs';
const env = (k) => { if (!process.env[k]) { console.log(`FAIL ${NAME}: ${k} not set (run chat_cluster.sh)`); process.exit(1); } return process.env[k]; };
const NGINX = env('NGINX_ADDR');
const ADDR = { a: env('A_ADDR'), b: env('B_ADDR') };
const PID = { a: Number(env('A_PID')), b: Number(env('B_PID')) };
const TIMEOUT = 10000;
const OUTAGE_MS = 5000;
const RSS_SLACK_MIB = 64;
const here = dirname(fileURLToPath(import.meta.url));

const chromium = loadChromium(NAME);
const WebSocket = createRequire(join(here, 'node', 'package.json'))('ws');
const { check, failed } = checks(NAME);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const room = `cluster-${process.pid}`;

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function openPage(context) {
  const page = collectErrors(await context.newPage(), { console: true });
  const res = await page.goto(`http://${NGINX}/?room=${room}`, { timeout: TIMEOUT });
  if (!res || res.status() !== 200) throw new Error(`GET /?room=${room} through nginx: HTTP ${res && res.status()}`);
  try {
    await page.waitForSelector('body[data-ready="1"][data-instance]', { state: 'attached', timeout: TIMEOUT });
  } catch {
    throw new Error(`the page never connected (page errors: ${JSON.stringify(page.errors)})`);
  }
  page.instance = await page.evaluate(() => document.body.dataset.instance);
  return page;
}

const logText = (page) => page.locator('#log').innerText({ timeout: TIMEOUT }).catch(() => '?');

async function shows(page, text, who, timeout = TIMEOUT) {
  try {
    await page.waitForFunction((t) => document.getElementById('log')?.textContent.includes(t), text, { timeout });
  } catch {
    const log = await logText(page);
    throw new Error(`${who} never showed ${JSON.stringify(text)}; its log ends ${JSON.stringify(log.slice(-300))}`);
  }
}

async function say(page, text) {
  await page.fill('#message', text);
  await page.click('#send');
}

async function roomCount(page, n, who, timeout) {
  try {
    await page.waitForFunction((want) => document.getElementById('room-count')?.textContent === String(want), n, { timeout });
  } catch {
    const shown = await page.locator('#presence').innerText({ timeout: TIMEOUT }).catch(() => '?');
    throw new Error(`${who} never showed ${n} in the room; it shows ${JSON.stringify(shown)}`);
  }
}

// A Node `ws` member of room `load-…` on one instance, straight (no nginx),
// that records the sequence numbers of the load messages it gets.
function loadMember(addr) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${addr}/ws?room=load-${process.pid}`);
    ws.seen = new Set();
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'message' && m.text.startsWith('load ')) ws.seen.add(Number(m.text.split(' ')[1]));
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

function restartRedis() {
  const conf = env('REDIS_CONF');
  const child = spawn('redis-server', [conf, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  child.unref();
  return child;
}

console.log(`# ${NAME}: ${CHROMIUM} through nginx on ${NGINX}; a on ${ADDR.a}, b on ${ADDR.b}`);
const killer = overallTimeout(NAME, 150000, '150s');
const browser = await launch(NAME, chromium);
let broken = false;
try {
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  const on = { a: [], b: [] };
  const placed = await check('pages_on_both_instances', async () => {
    // nginx alternates per request (the page, its WebSocket, the favicon):
    // open pages until each instance holds two; after a page lands where
    // there are enough, close it and send one more request to move the turn.
    for (let i = 0; i < 12 && (on.a.length < 2 || on.b.length < 2); i++) {
      const page = await openPage(context);
      if (on[page.instance]?.length < 2) {
        on[page.instance].push(page);
      } else {
        await page.close();
        await fetch(`http://${NGINX}/stats.json`).then((r) => r.arrayBuffer());
      }
    }
    console.log(`# pages on a: ${on.a.length}, on b: ${on.b.length}`);
    if (on.a.length < 2 || on.b.length < 2) throw new Error(`after 12 pages, ${on.a.length} on a and ${on.b.length} on b`);
  });
  if (!placed) throw new Error('stop');
  const pages = [...on.a, ...on.b];
  const label = (p) => `page ${pages.indexOf(p) + 1} (on ${p.instance})`;

  await check('messages_cross_instances', async () => {
    for (const from of [on.a[0], on.b[0]]) {
      const token = `from-${from.instance}-${Date.now()} ✓`;
      await say(from, token);
      for (const p of pages) await shows(p, token, label(p));
    }
  });

  // Each instance refreshes its counts every 5 s: a page learns the other
  // instance's count by then.
  await check('presence_counts_every_instance', async () => {
    for (const p of pages) await roomCount(p, 4, label(p), 12000);
  });

  // --- Redis away for 5 s under publishing ---------------------------------
  const subA = await loadMember(ADDR.a);
  const subB = await loadMember(ADDR.b);
  const pub = await loadMember(ADDR.a);
  let seq = 0;
  const pad = 'x'.repeat(3000);
  const load = setInterval(() => { for (let i = 0; i < 12; i++) pub.send(`load ${++seq} ${pad}`); }, 20);
  await sleep(1000);
  const rss = { before: {}, peak: {}, after: {} };
  for (const n of ['a', 'b']) rss.before[n] = rss.peak[n] = rssMiB(PID[n]);
  const sampler = setInterval(() => { for (const n of ['a', 'b']) if (alive(PID[n])) rss.peak[n] = Math.max(rss.peak[n], rssMiB(PID[n])); }, 100);

  const firstDown = seq + 1;
  process.kill(Number(env('REDIS_PID')), 'SIGKILL');
  const killedAt = Date.now();
  console.log(`# Redis killed at message ${firstDown}`);
  await sleep(1000);
  const outageToken = `during-outage-${Date.now()}`;
  let localPage = null;
  try {
    await say(on.a[0], outageToken);
    await shows(on.a[1], outageToken, `${label(on.a[1])} during the outage`, OUTAGE_MS - 1500);
  } catch (e) { localPage = e; }
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - killedAt)));
  const lastDown = seq;
  restartRedis();
  console.log(`# Redis back after ${Date.now() - killedAt} ms, at message ${lastDown + 1} (same port)`);

  await check('local_delivery_during_outage', async () => {
    if (localPage) throw localPage;
    await sleep(500);
    let missing = 0;
    for (let s = firstDown; s <= lastDown; s++) if (!subA.seen.has(s)) missing++;
    console.log(`# during the outage: ${lastDown - firstDown + 1} published on a; a's reader missed ${missing}`);
    if (missing) throw new Error(`a's own reader missed ${missing} of the ${lastDown - firstDown + 1} messages published on a during the outage`);
  });

  await check('cross_instance_resumes', async () => {
    const backAt = lastDown + 1;
    const deadline = Date.now() + 30000;
    let resumed = null;
    while (Date.now() < deadline && resumed === null) {
      for (const s of subB.seen) if (s >= backAt && (resumed === null || s < resumed)) resumed = s;
      if (resumed === null) await sleep(100);
    }
    if (resumed === null) throw new Error(`b got none of a's messages in the 30 s after Redis came back (last it got: ${Math.max(0, ...subB.seen)})`);
    let during = 0;
    for (let s = firstDown; s <= lastDown; s++) if (subB.seen.has(s)) during++;
    console.log(`# b got a's messages again from message ${resumed} (${Date.now() - killedAt - OUTAGE_MS} ms after Redis came back);` +
      ` of the ${lastDown - firstDown + 1} published during the outage, b got ${during}`);
    const token = `after-outage-${Date.now()}`;
    await say(on.a[0], token);
    for (const p of on.b) await shows(p, token, `${label(p)} after the outage`);
  });
  clearInterval(load);
  await sleep(2000);
  clearInterval(sampler);
  for (const n of ['a', 'b']) rss.after[n] = rssMiB(PID[n]);
  console.log(`# load: ${seq} messages of 3 KB published on a, a's reader got ${subA.seen.size}, b's ${subB.seen.size}`);
  for (const n of ['a', 'b']) {
    console.log(`# RSS of ${n}: ${rss.before[n].toFixed(1)} MiB before, ${rss.peak[n].toFixed(1)} MiB at the peak during, ${rss.after[n].toFixed(1)} MiB after`);
  }
  await check('memory_bounded', async () => {
    for (const n of ['a', 'b']) {
      if (rss.peak[n] > rss.before[n] + RSS_SLACK_MIB || rss.after[n] > rss.before[n] + RSS_SLACK_MIB) {
        throw new Error(`instance ${n}: ${rss.before[n].toFixed(1)} MiB before, ${rss.peak[n].toFixed(1)} peak, ${rss.after[n].toFixed(1)} after (bound: before + ${RSS_SLACK_MIB})`);
      }
    }
  });
  for (const ws of [subA, subB, pub]) ws.close();

  // --- SIGTERM to a: its pages get 1001 and come back through nginx on b ---
  process.kill(PID.a, 'SIGTERM');
  const movers = [...on.a];
  await check('sigterm_1001_on_page', async () => {
    for (const p of movers) await shows(p, '(1001); reconnecting in', label(p));
  });
  await check('reconnected_to_b', async () => {
    for (const p of movers) {
      try {
        await p.waitForSelector('body[data-ready="1"][data-instance="b"]', { state: 'attached', timeout: 15000 });
      } catch {
        const status = await p.locator('#status').innerText().catch(() => '?');
        throw new Error(`${label(p)} is not connected to b after 15 s; it says ${JSON.stringify(status)}`);
      }
    }
  });
  await check('a_exited', async () => {
    const deadline = Date.now() + 10000;
    while (alive(PID.a) && Date.now() < deadline) await sleep(100);
    if (alive(PID.a)) throw new Error(`instance a (pid ${PID.a}) still runs 10 s after SIGTERM`);
  });
  await check('no_message_lost_after_reconnect', async () => {
    const tokens = [];
    for (let i = 0; i < 10; i++) {
      const token = `after-${i}-${Date.now()}`;
      tokens.push(token);
      await say(pages[i % pages.length], token);
    }
    const counts = [];
    for (const p of pages) {
      for (const t of tokens) await shows(p, t, label(p));
      const log = await logText(p);
      counts.push(tokens.filter((t) => log.includes(t)).length);
    }
    console.log(`# messages said after the reconnection, shown per page: ${counts.map((c) => `${c}/10`).join(', ')}`);
  });
  await check('presence_after_failover', async () => {
    for (const p of pages) await roomCount(p, 4, `${label(p)} after the failover`, 20000);
  });
} catch (e) {
  broken = true;
  if (e.message !== 'stop') console.log(`FAIL ${NAME}:run: ${e.message.split('\n')[0]}`);
} finally {
  clearTimeout(killer);
  await browser.close();
}
process.exit(failed() || broken ? 1 : 0);
