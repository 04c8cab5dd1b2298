#!/usr/bin/env node
// Records what the REAL Amplitude Browser SDK and the REAL posthog-js send for
// one scripted browser session on the test site in site/, and writes the
// fixture parity.py reads:
//
//   fixture/amplitude.ndjson  every Amplitude event as the SDK posted it to
//                             /2/httpapi, one per line, in the order sent
//   fixture/posthog.ndjson    every posthog-js event as it posted it
//                             (gzip-js / base64 decoded), one per line, in order
//   fixture/requests.ndjson   one line per request the collector answered
//                             (which SDK, path, when it arrived, from where,
//                             how many events): what to_export.py needs for
//                             the fields Amplitude's servers add
//   fixture/meta.json         SDK versions, chromium version, user agent, date
//
// Everything stays on loopback: one HTTP server serves the site under two
// host names (www.example-shop.test, ads.example.test, mapped to 127.0.0.1 by
// chromium's --host-resolver-rules) and a second one is the collector both
// SDKs post to. Chromium is Debian's /usr/bin/chromium, started here with
// the flags below and driven over CDP by playwright-core.
//
// Usage: node record.mjs [--out DIR] [--chromium PATH] [--keep-profile]
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const OUT = path.resolve(opt('--out', path.join(HERE, 'fixture')));
const CHROMIUM = opt('--chromium', process.env.CHROMIUM || '/usr/bin/chromium');
const SHOP_HOST = 'www.example-shop.test';
const ADS_HOST = 'ads.example.test';
const PH_TOKEN = 'phc_amp2ph_harness_token';
const VIEWPORT = { width: 1280, height: 800 };
const log = (...a) => console.error('record:', ...a);
const origin = (host, port) => (port === 80 ? `http://${host}` : `http://${host}:${port}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pkgVersion(name) {
  return JSON.parse(fs.readFileSync(require.resolve(name + '/package.json'), 'utf8')).version;
}

// ---------------------------------------------------------------- bundle
async function bundle() {
  const esbuild = await import('esbuild');
  const outfile = path.join(HERE, '.build', 'bundle.js');
  await esbuild.build({
    entryPoints: [path.join(HERE, 'src', 'harness.js')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2018',
    outfile,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return outfile;
}

// ---------------------------------------------------------------- collector
const amplitudeEvents = [];
const posthogEvents = [];
const requests = [];
let lastEventAt = Date.now();

function decodePosthog(url, body, contentType) {
  const compression = url.searchParams.get('compression');
  let text;
  if (body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) {
    text = zlib.gunzipSync(body).toString('utf8');
  } else {
    text = body.toString('utf8');
    if (text.startsWith('data=') || (contentType || '').includes('x-www-form-urlencoded')) {
      const data = new URLSearchParams(text).get('data') || '';
      text = compression === 'base64' || !data.trim().startsWith('[') && !data.trim().startsWith('{')
        ? Buffer.from(data, 'base64').toString('utf8') : data;
    } else if (compression === 'base64') {
      text = Buffer.from(text, 'base64').toString('utf8');
    }
  }
  const v = JSON.parse(text);
  if (Array.isArray(v)) return v;
  if (v && Array.isArray(v.batch)) return v.batch;
  return [v];
}

function cors(req, res) {
  const origin = req.headers.origin;
  if (origin) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  } else {
    res.setHeader('Access-Control-Allow-Origin', '*');
  }
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers',
    req.headers['access-control-request-headers'] || 'Content-Type');
  res.setHeader('Access-Control-Max-Age', '600');
}

function json(res, status, obj) {
  const b = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': b.length });
  res.end(b);
}

// The minimal remote config PostHog would answer for a project with default
// settings (posthog-js remote-config.ts reads it). elementsChainAsString is
// false so that posthog-js sends $elements next to $elements_chain and the
// fixture holds both (autocapture.ts sends the chain either way).
const REMOTE_CONFIG = {
  token: PH_TOKEN,
  supportedCompression: ['gzip', 'gzip-js'],
  hasFeatureFlags: true,
  captureDeadClicks: false,
  capturePerformance: false,
  autocapture_opt_out: false,
  autocaptureExceptions: false,
  analytics: { endpoint: '/i/v0/e/' },
  elementsChainAsString: false,
  sessionRecording: false,
  heatmaps: false,
  surveys: false,
  productTours: false,
  defaultIdentifiedOnly: true,
  siteApps: [],
};
const FLAGS = {
  flags: {},
  featureFlags: {},
  featureFlagPayloads: {},
  errorsWhileComputingFlags: false,
  quotaLimited: [],
  requestId: '00000000-0000-4000-8000-000000000000',
};

function collector(req, res, body) {
  const url = new URL(req.url, 'http://collector');
  const p = url.pathname;
  cors(req, res);
  if (req.method === 'OPTIONS') { res.writeHead(204); res.end(); return; }
  const rec = {
    received: new Date().toISOString(),
    remote: req.socket.remoteAddress.replace(/^::ffff:/, ''),
    method: req.method,
    path: p,
    query: url.search,
    content_type: req.headers['content-type'] || null,
    bytes: body.length,
  };
  if (p === '/2/httpapi' && req.method === 'POST') {
    const payload = JSON.parse(body.toString('utf8'));
    const evs = payload.events || [];
    rec.sdk = 'amplitude';
    rec.first = amplitudeEvents.length;
    rec.events = evs.length;
    rec.options = payload.options || null;
    rec.client_upload_time = payload.client_upload_time || null;
    for (const e of evs) amplitudeEvents.push(e);
    requests.push(rec);
    lastEventAt = Date.now();
    json(res, 200, { code: 200, events_ingested: evs.length, payload_size_bytes: body.length,
      server_upload_time: Date.now() });
    return;
  }
  if (/^\/(e|i\/v0\/e|batch|capture|track|engage|s|i\/v0\/s)\/?$/.test(p) && req.method === 'POST') {
    let evs;
    try {
      evs = decodePosthog(url, body, req.headers['content-type']);
    } catch (e) {
      log('could not decode a posthog-js body on', p, e.message);
      rec.sdk = 'posthog'; rec.error = String(e.message); requests.push(rec);
      json(res, 400, { status: 0 });
      return;
    }
    rec.sdk = 'posthog';
    rec.first = posthogEvents.length;
    rec.events = evs.length;
    for (const e of evs) posthogEvents.push(e);
    requests.push(rec);
    lastEventAt = Date.now();
    json(res, 200, { status: 1 });
    return;
  }
  rec.sdk = p.startsWith('/2/') ? 'amplitude' : 'posthog';
  requests.push(rec);
  if (p === `/array/${PH_TOKEN}/config`) return json(res, 200, REMOTE_CONFIG);
  if (p === '/flags' || p === '/flags/' || p === '/decide' || p === '/decide/') {
    return json(res, 200, { ...FLAGS, ...REMOTE_CONFIG });
  }
  const m = p.match(/^\/static\/(?:[0-9.]+\/)?([A-Za-z0-9._-]+\.js)$/);
  if (m) {
    const f = path.join(path.dirname(require.resolve('posthog-js/package.json')), 'dist', m[1]);
    if (fs.existsSync(f)) {
      res.writeHead(200, { 'Content-Type': 'application/javascript' });
      res.end(fs.readFileSync(f));
      return;
    }
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not here\n');
}

// ---------------------------------------------------------------- site
function site(bundleFile, sitePort, collectorUrl) {
  const SHOP = origin(SHOP_HOST, sitePort);
  return (req, res) => {
    const host = (req.headers.host || '').split(':')[0];
    const url = new URL(req.url, 'http://site');
    let p = url.pathname;
    if (p === '/harness-config.js') {
      res.writeHead(200, { 'Content-Type': 'application/javascript', 'Cache-Control': 'no-store' });
      res.end(`window.HARNESS = ${JSON.stringify({ collector: collectorUrl })};\n`);
      return;
    }
    if (p === '/bundle.js') {
      res.writeHead(200, { 'Content-Type': 'application/javascript', 'Cache-Control': 'no-store' });
      res.end(fs.readFileSync(bundleFile));
      return;
    }
    const dir = host === ADS_HOST ? 'ads' : host === SHOP_HOST ? 'shop' : null;
    if (!dir) { res.writeHead(421); res.end(); return; }
    if (p.endsWith('/')) p += 'index.html';
    const f = path.join(HERE, 'site', dir, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
    if (!f.startsWith(path.join(HERE, 'site', dir)) || !fs.existsSync(f)) {
      res.writeHead(404); res.end('not found\n'); return;
    }
    const types = { '.html': 'text/html; charset=utf-8', '.pdf': 'application/pdf' };
    let data = fs.readFileSync(f);
    if (f.endsWith('.html')) data = Buffer.from(data.toString('utf8').replaceAll('{{SHOP}}', SHOP));
    res.writeHead(200, { 'Content-Type': types[path.extname(f)] || 'application/octet-stream',
      'Cache-Control': 'no-store' });
    res.end(data);
  };
}

function listen(handler, port = 0) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try { handler(req, res, Buffer.concat(chunks)); } catch (e) {
          log('handler error', req.url, e.stack);
          if (!res.headersSent) { res.writeHead(500); res.end(); }
        }
      });
    });
    srv.keepAliveTimeout = 1000;
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

// ---------------------------------------------------------------- chromium
function chromiumVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch { return null; }
}

function startChromium(sitePort, userAgent, profile) {
  const flags = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
    // posthog-js drops every event as a bot while navigator.webdriver is true;
    // and no --enable-automation.
    '--disable-blink-features=AutomationControlled',
    `--user-data-dir=${profile}`,
    // The site is served under host names that resolve to loopback (Amplitude's
    // attribution treats every internal page of an IP:port site as a new
    // campaign); every other name fails, so nothing leaves the machine.
    `--host-resolver-rules=MAP ${SHOP_HOST} 127.0.0.1, MAP ${ADS_HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`,
    `--user-agent=${userAgent}`,
    `--window-size=${VIEWPORT.width},${VIEWPORT.height}`,
    '--lang=en-US',
    '--remote-debugging-address=127.0.0.1',
    '--remote-debugging-port=0',
    'about:blank',
  ];
  const child = spawn(CHROMIUM, flags, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TZ: 'UTC', LANG: 'en_US.UTF-8', LANGUAGE: 'en_US' },
  });
  return new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error('chromium did not start: ' + err.slice(-2000))), 30000);
    child.stderr.on('data', (d) => {
      err += d.toString();
      const m = err.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) { clearTimeout(t); resolve({ child, ws: m[1] }); }
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`)); });
  });
}

// ---------------------------------------------------------------- scenario
async function waitQuiet(ms = 1500, max = 10000) {
  const start = Date.now();
  await sleep(ms);
  while (Date.now() - lastEventAt < ms && Date.now() - start < max) await sleep(200);
}

async function scenario(context, sitePort) {
  const steps = [];
  let page = await context.newPage();
  const watch = (pg) => {
    pg.on('console', (m) => { if (m.type() === 'error' && !/404/.test(m.text())) log('console', m.type(), m.text()); });
    pg.on('pageerror', (e) => log('pageerror', e.message));
  };
  watch(page);
  const step = async (name, fn, nav = false) => {
    log('step:', name);
    const before = page.url();
    if (nav) {
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), fn()]);
    } else {
      await fn();
    }
    await waitQuiet(nav ? 2000 : 1200);
    steps.push({ step: name, url_before: before, url_after: page.url() });
  };
  const ADS = origin(ADS_HOST, sitePort) + '/';
  const SHOP = origin(SHOP_HOST, sitePort);
  // Tab 1: in from an ad, browse, sign up (login), group, custom event.
  await step('open the external ad site', () => page.goto(ADS, { waitUntil: 'load' }));
  await step('click the ad (landing page with utm_* and gclid)', () => page.click('#ad'), true);
  await step('click the span inside the hero link (to pricing)', () => page.click('#hero-cta .cta-label'), true);
  await step('click the span inside the Pro button',
    () => page.click('button[data-plan=pro] .label', { position: { x: 4, y: 4 } }));
  await step('click the PDF download link', () => page.click('#download'));
  await step('click the span inside the trial link (to signup)', () => page.click('#start-trial .label'), true);
  await step('type the email and leave the field', async () => {
    await page.click('#email');
    await page.keyboard.type('jane@example.com', { delay: 20 });
    await page.keyboard.press('Tab');
  });
  await step('choose the Pro plan', () => page.selectOption('#plan', 'pro'));
  await step('accept the terms', () => page.click('#terms'));
  await step('click the span inside the submit button (login)', () => page.click('#create-account span'));
  await step('continue to the dashboard', () => page.click('#continue-link'), true);
  await step('join the company (group)', () => page.click('#join-company'));
  await step('upgrade the plan (custom event)', () => page.click('#upgrade span'));
  await step('compare plans (to pricing again)', () => page.click('#compare-plans'), true);
  await step('home link (landing page without campaign)', () => page.click('#nav-home'), true);
  await step('leave for the external site ($pageleave)', () => page.goto(ADS, { waitUntil: 'load' }));
  // Tab 2, same browser profile (same device, same sessions): the pricing
  // page typed in directly, no referrer and no campaign in this tab.
  await page.close();
  page = await context.newPage();
  watch(page);
  await step('new tab: pricing page typed in (direct visit)',
    () => page.goto(SHOP + '/pricing.html', { waitUntil: 'load' }));
  await step('click the span inside the Free button',
    () => page.click('button[data-plan=free] .label', { position: { x: 4, y: 4 } }));
  await step('leave for the external site ($pageleave)', () => page.goto(ADS, { waitUntil: 'load' }));
  await waitQuiet(2500, 15000);
  return { steps, page };
}

// ---------------------------------------------------------------- main
async function main() {
  const bundleFile = await bundle();
  const col = await listen(collector);
  const collectorUrl = `http://127.0.0.1:${col.address().port}`;
  let siteImpl = null;
  // The site wants port 80, as a real site has: Amplitude's attribution
  // compares the referrer's host *with its port* to the cookie domain, so on
  // a site with a port the first internal page view is a new campaign (an
  // extra $identify and a new referrer). Another port only if 80 is taken.
  let siteSrv;
  try {
    siteSrv = await listen((req, res) => siteImpl(req, res), Number(process.env.SITE_PORT || 80));
  } catch (e) {
    log(`port ${process.env.SITE_PORT || 80} not available (${e.code}); the site gets a free port,`,
      'and Amplitude will see its first internal page as a new campaign');
    siteSrv = await listen((req, res) => siteImpl(req, res));
  }
  const sitePort = siteSrv.address().port;
  siteImpl = site(bundleFile, sitePort, collectorUrl);
  log('collector', collectorUrl, 'site port', sitePort);

  const chromeVersion = chromiumVersion();
  const major = (chromeVersion || '').match(/(\d+)\./)?.[1] || '0';
  // A desktop Chrome user agent of this chromium's major version (headless
  // chromium says "HeadlessChrome", which posthog-js drops as a bot).
  const userAgent = `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'amp2ph-sdk-profile-'));
  const { chromium } = await import('playwright-core');
  let chrome, browser, steps, nav = {};
  try {
    chrome = await startChromium(sitePort, userAgent, profile);
    browser = await chromium.connectOverCDP(chrome.ws);
    const context = browser.contexts()[0];
    const r = await scenario(context, sitePort);
    steps = r.steps;
    const page = r.page;
    nav = await page.evaluate(() => ({
      userAgent: navigator.userAgent,
      webdriver: navigator.webdriver,
      language: navigator.language,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      brands: navigator.userAgentData ? navigator.userAgentData.brands : null,
      screen: { width: screen.width, height: screen.height },
      viewport: { width: innerWidth, height: innerHeight },
    }));
    await page.close();
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (chrome) {
      chrome.child.kill('SIGTERM');
      await Promise.race([new Promise((r) => chrome.child.once('exit', r)), sleep(5000)]);
      if (chrome.child.exitCode === null && chrome.child.signalCode === null) chrome.child.kill('SIGKILL');
    }
    col.close();
    siteSrv.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }

  fs.mkdirSync(OUT, { recursive: true });
  const nd = (rows) => rows.map((r) => JSON.stringify(r) + '\n').join('');
  fs.writeFileSync(path.join(OUT, 'amplitude.ndjson'), nd(amplitudeEvents));
  fs.writeFileSync(path.join(OUT, 'posthog.ndjson'), nd(posthogEvents));
  fs.writeFileSync(path.join(OUT, 'requests.ndjson'), nd(requests));
  const count = (evs, key) => evs.reduce((m, e) => { m[e[key]] = (m[e[key]] || 0) + 1; return m; }, {});
  const meta = {
    recorded: new Date().toISOString(),
    recorder: 'tests/sdk/record.mjs',
    sdks: {
      '@amplitude/analytics-browser': pkgVersion('@amplitude/analytics-browser'),
      '@amplitude/plugin-autocapture-browser': pkgVersion('@amplitude/plugin-autocapture-browser'),
      'posthog-js': pkgVersion('posthog-js'),
    },
    tools: { 'playwright-core': pkgVersion('playwright-core'), esbuild: pkgVersion('esbuild'), node: process.version },
    chromium: chromeVersion,
    user_agent: userAgent,
    navigator: nav,
    site: { shop: SHOP_HOST, external: ADS_HOST, port: sitePort, collector: collectorUrl },
    remote_config: REMOTE_CONFIG,
    steps,
    counts: { amplitude: count(amplitudeEvents, 'event_type'), posthog: count(posthogEvents, 'event') },
  };
  fs.writeFileSync(path.join(OUT, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  log('wrote', OUT, JSON.stringify(meta.counts));
  if (nav.webdriver) throw new Error('navigator.webdriver was true: posthog-js treats the session as a bot');
}

main().catch((e) => { console.error('record: failed:', e.stack || e); process.exit(1); });
