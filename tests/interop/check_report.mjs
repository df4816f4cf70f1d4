#!/usr/bin/env node
// Loads a smartsweep `_report.html` in headless Chromium (Debian's
// /usr/bin/chromium) with the network shut, through the DevTools protocol
// over a pipe (--remote-debugging-pipe: no npm package, no port), and fails
// when:
//   - the page asks for anything but itself (every request is recorded;
//     the network is emulated offline and http(s)/ws(s) URLs are blocked),
//   - any console error, page error or log error appears (a CSP violation
//     is one),
//   - a chart (`svg.chart`) drew nothing: no mark (`.mark`) with a non-zero
//     box, or a screenshot of its box that is blank,
//   - a chart named with --expect is missing.
//
// Usage: node check_report.mjs REPORT.html [--expect a,b,c] [--screenshot OUT.png]
//        [--width 1200] [--max-height 4000]
// Prints one JSON line (what it saw); exit 0 sound, 1 a check failed,
// 2 bad usage or no browser.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';

function parseArgs(argv) {
  const a = { expect: [], screenshot: null, width: 1200, maxHeight: 4000, file: null };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--expect') a.expect = argv[++i].split(',').filter(Boolean);
    else if (v === '--screenshot') a.screenshot = argv[++i];
    else if (v === '--width') a.width = Number(argv[++i]);
    else if (v === '--max-height') a.maxHeight = Number(argv[++i]);
    else if (!a.file) a.file = v;
    else throw new Error(`unexpected argument ${v}`);
  }
  if (!a.file) throw new Error('usage: check_report.mjs REPORT.html [--expect a,b] [--screenshot OUT.png]');
  return a;
}

const CHROMIUM = process.env.SMARTSWEEP_CHROMIUM || '/usr/bin/chromium';

/// A DevTools protocol client over Chromium's pipe (fd 3 in, fd 4 out;
/// messages are JSON separated by NUL).
class Cdp {
  constructor(proc) {
    this.proc = proc;
    this.out = proc.stdio[3];
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    let buf = Buffer.alloc(0);
    proc.stdio[4].on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let nul;
      while ((nul = buf.indexOf(0)) >= 0) {
        const msg = JSON.parse(buf.subarray(0, nul).toString('utf8'));
        buf = buf.subarray(nul + 1);
        this.dispatch(msg);
      }
    });
  }
  dispatch(msg) {
    if (msg.id && this.pending.has(msg.id)) {
      const { resolve, reject, method } = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
      else resolve(msg.result);
      return;
    }
    for (const l of this.listeners) l(msg);
  }
  send(method, params = {}, sessionId = undefined) {
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.out.write(JSON.stringify(msg) + '\0');
    });
  }
  on(fn) { this.listeners.push(fn); }
  waitFor(pred, ms, what) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      this.on((m) => { if (pred(m)) { clearTimeout(t); resolve(m); } });
    });
  }
}

/// Decodes an 8-bit RGB or RGBA PNG into { width, height, channels, data }.
function decodePng(buf) {
  let pos = 8, width = 0, height = 0, colorType = 0, depth = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0); height = body.readUInt32BE(4);
      depth = body[8]; colorType = body[9];
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  if (depth !== 8 || !channels) throw new Error(`unsupported PNG (depth ${depth}, colour type ${colorType})`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const data = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? data[y * stride + x - channels] : 0;
      const b = y > 0 ? data[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      data[y * stride + x] = v & 0xff;
    }
  }
  return { width, height, channels, data };
}

/// How much of an image is not its background: the share of pixels away
/// from the most common colour, and the share that are saturated (a
/// coloured mark, not grey text or grid lines).
function inkOf(png) {
  const counts = new Map();
  const n = png.width * png.height;
  const px = (i) => {
    const o = i * png.channels;
    return [png.data[o], png.data[o + 1], png.data[o + 2]];
  };
  for (let i = 0; i < n; i++) {
    const [r, g, b] = px(i);
    const k = (r << 16) | (g << 8) | b;
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  let bg = 0, best = -1;
  for (const [k, c] of counts) if (c > best) { best = c; bg = k; }
  const [br, bgg, bb] = [bg >> 16, (bg >> 8) & 0xff, bg & 0xff];
  let ink = 0, colour = 0;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = px(i);
    if (Math.abs(r - br) + Math.abs(g - bgg) + Math.abs(b - bb) > 48) ink++;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 48 || Math.max(r, g, b) < 140) colour++;
  }
  return { ink: ink / n, colour: colour / n, colours: counts.size };
}

const MEASURE = `(() => {
  const charts = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const r = svg.getBoundingClientRect();
    let marks = 0, x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const m of svg.querySelectorAll('.mark')) {
      const b = m.getBoundingClientRect();
      const drawn = m.tagName === 'rect' ? b.width > 0 && b.height > 0 : b.width > 0 || b.height > 0;
      if (!drawn) continue;
      marks++;
      x0 = Math.min(x0, b.left); y0 = Math.min(y0, b.top);
      x1 = Math.max(x1, b.right); y1 = Math.max(y1, b.bottom);
    }
    // The marks' box, widened by a pixel so that a 1 px line has an area.
    const box = marks ? { x: x0 - 1 + scrollX, y: y0 - 1 + scrollY, width: x1 - x0 + 2, height: y1 - y0 + 2 } : null;
    charts.push({ name: svg.dataset.chart, x: r.left + scrollX, y: r.top + scrollY,
                  width: r.width, height: r.height, marks, box });
  }
  return { title: document.title, charts, height: document.documentElement.scrollHeight };
})()`;

async function check(args) {
  const file = realpathSync(args.file);
  const url = pathToFileURL(file).href;
  const profile = mkdtempSync(join(tmpdir(), 'smartsweep-chromium-'));
  const proc = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-extensions', '--disable-default-apps', '--mute-audio', '--hide-scrollbars',
    // The network stays shut even for the browser itself.
    '--proxy-server=127.0.0.1:9', '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  const exited = new Promise((r) => proc.on('exit', r));
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const cdp = new Cdp(proc);
  const problems = [];
  const requests = [];
  try {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const s = (m, p) => cdp.send(m, p, sessionId);
    cdp.on((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params || {};
      if (m.method === 'Runtime.consoleAPICalled' && ['error', 'assert', 'warning'].includes(p.type)) {
        problems.push(`console ${p.type}: ${(p.args || []).map((a) => a.value ?? a.description).join(' ')}`);
      } else if (m.method === 'Runtime.exceptionThrown') {
        problems.push(`page error: ${p.exceptionDetails?.exception?.description || p.exceptionDetails?.text}`);
      } else if (m.method === 'Log.entryAdded' && ['error', 'warning'].includes(p.entry?.level)) {
        problems.push(`log ${p.entry.level} (${p.entry.source}): ${p.entry.text} ${p.entry.url || ''}`);
      } else if (m.method === 'Network.requestWillBeSent') {
        requests.push(p.request.url);
        if (p.request.url !== url && !p.request.url.startsWith('data:')) {
          problems.push(`the page asked for ${p.request.url}`);
        }
      }
    });
    await s('Runtime.enable');
    await s('Log.enable');
    await s('Page.enable');
    await s('Network.enable');
    await s('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await s('Network.setBlockedURLs', { urls: ['http://*', 'https://*', 'ws://*', 'wss://*', 'ftp://*'] });
    await s('Emulation.setDeviceMetricsOverride', { width: args.width, height: 900, deviceScaleFactor: 1, mobile: false });
    const loaded = cdp.waitFor((m) => m.sessionId === sessionId && m.method === 'Page.loadEventFired', 30000, 'the page to load');
    const nav = await s('Page.navigate', { url });
    if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);
    await loaded;
    await new Promise((r) => setTimeout(r, 300));
    const { result } = await s('Runtime.evaluate', { expression: MEASURE, returnByValue: true });
    const seen = result.value;
    const height = Math.min(Math.ceil(seen.height), args.maxHeight);
    await s('Emulation.setDeviceMetricsOverride', { width: args.width, height, deviceScaleFactor: 1, mobile: false });
    const names = seen.charts.map((c) => c.name);
    for (const e of args.expect) if (!names.includes(e)) problems.push(`chart ${e} is missing (found ${names.join(', ')})`);
    for (const c of seen.charts) {
      if (c.marks === 0) problems.push(`chart ${c.name} drew no mark`);
      if (c.width < 50 || c.height < 20) problems.push(`chart ${c.name} is ${c.width}x${c.height}`);
      const shoot = async (clip) => {
        const shot = await s('Page.captureScreenshot', {
          format: 'png', captureBeyondViewport: true, clip: { ...clip, scale: 1 },
        });
        return inkOf(decodePng(Buffer.from(shot.data, 'base64')));
      };
      // The chart's box is not blank, and where its marks are, the marks'
      // colour was painted.
      c.pixels = await shoot({ x: c.x, y: c.y, width: c.width, height: c.height });
      if (c.pixels.ink < 0.01 || c.pixels.colours < 3) {
        problems.push(`chart ${c.name} looks blank in the screenshot (${JSON.stringify(c.pixels)})`);
      }
      if (c.box) {
        c.mark_pixels = await shoot(c.box);
        if (c.mark_pixels.colour < 0.01) {
          problems.push(`chart ${c.name}: its marks' area shows no mark colour (${JSON.stringify(c.mark_pixels)})`);
        }
      }
    }
    if (args.screenshot) {
      const shot = await s('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true,
        clip: { x: 0, y: 0, width: args.width, height, scale: 1 } });
      writeFileSync(args.screenshot, Buffer.from(shot.data, 'base64'));
    }
    return { ok: problems.length === 0, problems, requests, title: seen.title, charts: seen.charts };
  } catch (e) {
    problems.push(String(e.message || e));
    return { ok: false, problems, requests, browser_stderr: stderr };
  } finally {
    try { await Promise.race([cdp.send('Browser.close'), new Promise((r) => setTimeout(r, 3000))]); } catch {}
    // Chromium's own helper processes are in the group it leads.
    try { process.kill(-proc.pid, 'SIGKILL'); } catch {}
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    try { rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); } catch {}
  }
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(String(e.message));
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set SMARTSWEEP_CHROMIUM)`);
  process.exit(2);
}
const timer = setTimeout(() => { console.error('timed out after 90 s'); process.exit(1); }, 90000);
const out = await check(args);
clearTimeout(timer);
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
