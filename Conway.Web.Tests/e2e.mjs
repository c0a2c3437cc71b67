// End-to-end tests of Conway.Api's page in Debian's headless Chromium (/usr/bin/chromium), driven by playwright-core.
// Usage: node e2e.mjs <baseUrl> [screenshotDir] [scenario ...]     (every scenario when none is named)
// With CONWAY_API_KEY set, the service is one started with that key in Auth:ApiKeys, and the default scenarios are
// the API key ones.
// Prints "ok - <scenario>" or "not ok - <scenario>" with the reason, then "N passed, N failed"; exits 1 on any failure.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, shots = 'artifacts/screenshots', ...only] = process.argv.slice(2);
if (!baseUrl) {
  console.error('usage: node e2e.mjs <baseUrl> [screenshotDir] [scenario ...]');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const MODEL_TIMEOUT = 120_000; // a prediction takes about a second on a 2-core CPU, the first one a few more
const UI_TIMEOUT = 15_000;

// ---- Boards as the page shows them: data-cells holds 1024 '0'/'1', row-major ----

const SIZE = 32;
const board = cells => {
  const chars = Array(SIZE * SIZE).fill('0');
  for (const [r, c] of cells) chars[r * SIZE + c] = '1';
  return chars.join('');
};
const moved = (cells, dr, dc) => cells.map(([r, c]) => [r + dr, c + dc]);
const GLIDER = [[5, 6], [6, 7], [7, 5], [7, 6], [7, 7]];           // heading down and right
const GLIDER_NEXT = [[6, 5], [6, 7], [7, 6], [7, 7], [8, 6]];      // its next generation
const GLIDER_AFTER_4 = moved(GLIDER, 1, 1);                        // four generations on: one cell down and right
const GLIDER_AT_ORIGIN = moved(GLIDER, -5, -5);

// ---- Page helpers ----

/**
 * A page that records what it throws (errors), what it logs as errors (consoleErrors) and every Content-Security-Policy
 * violation the browser reports (violations: "directive blocked-uri", from securitypolicyviolation events).
 */
async function newPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: viewport.width < 500 ? 2 : 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.errors = [];
  page.consoleErrors = [];
  page.violations = [];
  page.on('pageerror', error => page.errors.push(error.message));
  page.on('console', message => { if (message.type() === 'error') page.consoleErrors.push(message.text()); });
  await page.exposeFunction('reportViolation', violation => page.violations.push(violation));
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation',
    event => window.reportViolation(`${event.effectiveDirective} ${event.blockedURI}`)));
  return page;
}

/** The page at /, once the pattern catalogue is in; page.response is its HTTP response. */
async function open(browser, viewport) {
  const page = await newPage(browser, viewport);
  page.response = await page.goto(baseUrl);
  await page.waitForFunction(() => document.querySelector('#pattern option')?.value === 'block'); // the catalogue is in
  return page;
}

async function close(page) {
  assert.deepEqual(page.errors, [], 'the page threw');
  assert.deepEqual(page.violations, [], 'the browser blocked something under the Content-Security-Policy');
  await page.context().close();
}

/** Waits (bounded) until condition() holds on this side, e.g. for what the page reported. */
async function until(condition, what, timeout = UI_TIMEOUT) {
  for (const end = Date.now() + timeout; !condition();) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

/** The directives of a Content-Security-Policy header: { 'script-src': "'self'", ... }. */
const directives = policy => Object.fromEntries(policy.split(';').map(directive => directive.trim().split(/\s+/))
  .map(([name, ...sources]) => [name, sources.join(' ')]));

/** A CSS colour as [r, g, b], as the browser reads it (a canvas normalises any colour to #rrggbb). */
const rgb = (page, colours) => page.evaluate(colours => colours.map(colour => {
  const context = document.createElement('canvas').getContext('2d');
  context.fillStyle = colour;
  return [1, 3, 5].map(i => parseInt(context.fillStyle.slice(i, i + 2), 16));
}), colours);

const cellsOf = (page, id) => page.getAttribute(`#${id}`, 'data-cells');
const text = (page, selector) => page.locator(selector).innerText();

async function clickCell(page, r, c) {
  const box = await page.locator('#editor').boundingBox();
  await page.mouse.click(box.x + ((c + 0.5) * box.width) / SIZE, box.y + ((r + 0.5) * box.height) / SIZE);
}

/** Waits until no request is in flight (the page marks its body busy from the click that starts one). */
const settled = page => page.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout: MODEL_TIMEOUT });

async function noMessage(page) {
  if (await page.locator('#message').isVisible()) assert.fail(`the page shows: ${await text(page, '#message')}`);
}

async function drawGlider(page) {
  for (const [r, c] of GLIDER) await clickCell(page, r, c);
  assert.equal(await cellsOf(page, 'editor'), board(GLIDER), 'the clicked cells are the glider');
  assert.equal(await text(page, '#population'), '5 alive');
}

/** Records the page's POSTs to /predict and /rollout from now on: { path: 'POST /rollout', body, accept }. */
function recordApiRequests(page) {
  const requests = [];
  page.on('request', request => {
    const path = new URL(request.url()).pathname;
    if (request.method() === 'POST' && /^\/(predict|rollout)\b/.test(path))
      requests.push({ path: `POST ${path}`, body: request.postDataJSON(), accept: request.headers().accept });
  });
  return requests;
}

/** Records every value #step shows from now on; answers a function that returns them. */
async function watchSteps(page) {
  await page.evaluate(() => {
    window.stepsShown = [];
    const step = document.getElementById('step');
    new MutationObserver(() => { if (window.stepsShown.at(-1) !== step.textContent) window.stepsShown.push(step.textContent); })
      .observe(step, { childList: true, characterData: true, subtree: true });
  });
  return () => page.evaluate(() => window.stepsShown);
}

/** conway_rollouts_ended_total for one reason, from the service's /metrics (0 before the first). */
async function rolloutsEnded(reason) {
  const metrics = await (await fetch(new URL('/metrics', baseUrl))).text();
  const line = metrics.split('\n').find(line => line.startsWith('conway_rollouts_ended_total{') && line.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Waits (bounded) until an asynchronous condition holds. */
async function untilAsync(condition, what, timeout = UI_TIMEOUT) {
  for (const end = Date.now() + timeout; !(await condition());) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

// ---- Scenarios ----

const scenarios = {
  async 'predicting a clicked glider shows the model next state equal to the rule'(browser) {
    const page = await open(browser);
    await drawGlider(page);

    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);

    await noMessage(page);
    assert.equal(await cellsOf(page, 'rule'), board(GLIDER_NEXT), "the rule's next state of the glider");
    assert.equal(await cellsOf(page, 'model'), await cellsOf(page, 'rule'), "the model's next state is the rule's");
    assert.match(await text(page, '#summary'), /Step 1: the model matches the exact rule/);
    assert.match(await text(page, '#latency'), /^\d+ ms \(round trip \d+ ms\)$/);
    assert.match(await text(page, '#used-strategy'), /^speculative · lifegpt@[0-9a-f]{12}$/);
    assert.equal(await text(page, '#step'), '1');
    await page.screenshot({ path: join(shots, 'page.png'), fullPage: true });

    await page.getByLabel('P(alive) heat map').check();
    assert.notEqual(await page.evaluate(() => document.getElementById('model').dataset.cells), '', 'the heat map keeps the cells');
    await page.screenshot({ path: join(shots, 'page-heat-map.png'), fullPage: true });
    await close(page);
  },

  async 'playing streams one rollout and stop ends it on the service'(browser) {
    const page = await open(browser);
    await drawGlider(page);
    await page.locator('#delay').fill('1500'); // a pause after each step, so Stop lands before a fifth
    const requests = recordApiRequests(page);
    const stepsShown = await watchSteps(page);
    const stoppedBefore = await rolloutsEnded('client_gone');
    await page.waitForFunction(() => document.getElementById('model-pick').value === 'lifegpt'); // the picker is filled

    await page.locator('h1').click(); // focus off the board: Space is the page's Play/Stop
    await page.keyboard.press('Space');
    assert.equal(await page.getAttribute('#play', 'data-playing'), 'true');
    await page.waitForFunction(() => document.getElementById('step').textContent === '4' || !document.getElementById('message').hidden,
      null, { timeout: 4 * MODEL_TIMEOUT });
    await page.keyboard.press('Space');
    await settled(page);

    await noMessage(page);
    assert.equal(await page.getAttribute('#play', 'data-playing'), 'false');
    assert.equal(await text(page, '#step'), '4');
    assert.deepEqual((await stepsShown()).filter(step => step !== '0'), ['1', '2', '3', '4'], 'each generation drawn as it arrived');
    assert.deepEqual(requests.map(({ path }) => path), ['POST /rollout'], 'one stream for the whole play, no /predict');
    assert.equal(requests[0].body.steps, 1000);
    assert.equal(requests[0].body.model, 'lifegpt', 'the picked model is asked for');
    assert.equal(requests[0].accept, 'application/x-ndjson');
    assert.equal(await cellsOf(page, 'rule'), board(GLIDER_AFTER_4), "the rule's glider after four steps");
    assert.equal(await cellsOf(page, 'model'), board(GLIDER_AFTER_4), "the model's own glider after four steps");
    assert.equal(await text(page, '#model-diverged'), 'none');
    assert.match(await text(page, '#used-strategy'), /^speculative · lifegpt@[0-9a-f]{12}$/);
    assert.equal(await cellsOf(page, 'editor'), board(GLIDER), 'the board keeps the start');
    await page.screenshot({ path: join(shots, 'play.png'), fullPage: true });

    // Stop aborted the stream: the service stopped the rollout as one whose client left
    await untilAsync(async () => (await rolloutsEnded('client_gone')) > stoppedBefore, 'conway_rollouts_ended_total{reason="client_gone"} to count the stopped rollout');
    await close(page);
  },

  async 'pasting invalid rle shows the service validation message and keeps the board'(browser) {
    const page = await open(browser);
    await drawGlider(page);

    await page.getByLabel('Pattern text').fill('x = 3, y = 3\nbo$2bo$4o!');
    await page.getByRole('button', { name: 'Load text' }).click();

    const message = page.locator('#message');
    await message.waitFor({ state: 'visible' });
    assert.equal(await message.innerText(),
      'The service rejected the input: rle: Line 2, column 9: this row is longer than the 3 columns the header declares (x = 3).');
    assert.equal(await message.getAttribute('role'), 'alert');
    assert.equal(await cellsOf(page, 'editor'), board(GLIDER), 'the board is unchanged');
    await page.screenshot({ path: join(shots, 'error.png') });

    await page.getByLabel('Pattern text').fill('#C too big for the service\n' + 'b'.repeat(1100 * 1024));
    await page.getByRole('button', { name: 'Load text' }).click();
    await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('Too large'));
    assert.equal(await message.innerText(), 'Too large for the service: The body is larger than the limit of 1048576 bytes.');
    await close(page);
  },

  async 'pasted rle and plaintext load onto the board and copy as rle round trips'(browser) {
    const page = await open(browser);
    const textBox = page.getByLabel('Pattern text');

    await textBox.fill('#N Glider\nx = 3, y = 3, rule = B3/S23\nbo$2bo$3o!');
    await page.getByRole('button', { name: 'Load text' }).click();
    await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('Loaded RLE'));
    assert.equal(await cellsOf(page, 'editor'), board(GLIDER_AT_ORIGIN));

    await page.keyboard.press('Tab'); // out of the text box, where letters are typing, not shortcuts
    await page.keyboard.press('c');
    assert.equal(await text(page, '#population'), '0 alive');
    await textBox.fill('!Name: Glider\n.O.\n..O\nOOO');
    await page.getByRole('button', { name: 'Load text' }).click();
    await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('Loaded plaintext'));
    assert.equal(await cellsOf(page, 'editor'), board(GLIDER_AT_ORIGIN));

    await page.getByRole('combobox', { name: 'Pattern' }).selectOption('pulsar');
    const pulsar = await cellsOf(page, 'editor');
    assert.equal([...pulsar].filter(cell => cell === '1').length, 48, 'the pulsar has 48 cells');
    await page.getByRole('button', { name: 'Copy as RLE' }).click();
    await page.waitForFunction(() => document.getElementById('text').value.startsWith('x = 32, y = 32, rule = B3/S23\n'));
    await page.getByRole('button', { name: /^Clear/ }).click();
    await page.getByRole('button', { name: 'Load text' }).click();
    await page.waitForFunction(() => document.getElementById('message').textContent === 'Loaded RLE: 48 alive.');
    assert.equal(await cellsOf(page, 'editor'), pulsar, 'the copied RLE loads back as the same board');
    await close(page);
  },

  async 'busy unavailable and unreachable service show clear messages and stop play'(browser) {
    const page = await open(browser);
    await drawGlider(page);
    const problem = (status, title, detail, headers = {}) => route => route.fulfill({
      status, headers: { 'Content-Type': 'application/problem+json', ...headers }, body: JSON.stringify({ status, title, detail }),
    });
    const message = page.locator('#message');

    await page.route('**/rollout', problem(429, 'Too Many Requests',
      "The model's queue is full (1024 requests waiting); retry after a second.", { 'Retry-After': '1' }));
    await page.getByRole('button', { name: /^Play/ }).click();
    await settled(page);
    assert.equal(await message.innerText(),
      "The model is busy: The model's queue is full (1024 requests waiting); retry after a second. Try again in 1 s.");
    assert.equal(await page.getAttribute('#play', 'data-playing'), 'false', 'play stops on an error');
    assert.equal(await text(page, '#step'), '0');

    await page.route('**/predict', problem(503, 'Service Unavailable', 'The model failed to load; see the service log.'));
    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    assert.equal(await message.innerText(), 'The model is not available: The model failed to load; see the service log.');

    await page.unroute('**/predict');
    await page.route('**/predict', route => route.abort('connectionrefused'));
    await page.getByRole('button', { name: /^Step/ }).click();
    await settled(page);
    assert.match(await message.innerText(), /^Could not reach the service \(.+\)\. Is it running\?$/);
    await close(page);
  },

  async 'keyboard alone moves the cursor toggles cells and runs the shortcuts'(browser) {
    const page = await open(browser);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'editor', 'the board is the first stop');
    for (const key of ['ArrowDown', 'ArrowDown', 'ArrowRight', 'ArrowRight', 'ArrowRight', 'Enter']) await page.keyboard.press(key);
    assert.equal(await cellsOf(page, 'editor'), board([[2, 3]]));
    for (const key of ['ArrowUp', 'ArrowUp', 'ArrowUp', 'Space']) await page.keyboard.press(key); // wraps round the torus
    assert.equal(await cellsOf(page, 'editor'), board([[2, 3], [31, 3]]));
    assert.equal(await text(page, '#announce'), 'Row 32, column 4: alive');
    await page.keyboard.press('Space');
    assert.equal(await cellsOf(page, 'editor'), board([[2, 3]]), 'Space toggles back');

    await page.keyboard.press('r');
    assert.ok(Number((await text(page, '#population')).split(' ')[0]) > 50, 'R randomises');
    await page.keyboard.press('c');
    assert.equal(await text(page, '#population'), '0 alive', 'C clears');
    await page.keyboard.press('h');
    assert.equal(await page.isChecked('#heat'), true, 'H turns the heat map on');

    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'predict');
    assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'solid', 'focus is visible');
    await page.keyboard.press('p');
    await settled(page);
    await noMessage(page);
    assert.equal(await text(page, '#step'), '1', 'P predicts');

    for (const [role, name] of [['application', 'Board editor, 32 by 32 cells'], ['img', /^The model's state at step 1/],
      ['img', /^The exact rule's state at step 1/], ['combobox', 'Strategy'], ['combobox', 'Pattern'], ['slider', /^Density/],
      ['slider', /^Delay between steps/], ['textbox', 'Pattern text'], ['button', 'Copy as RLE']])
      assert.equal(await page.getByRole(role, { name }).count(), 1, `one ${role} named ${name}`);
    await close(page);
  },

  async 'the status badge names the devices and model that readiness reports'(browser) {
    const readiness = await (await fetch(new URL('/healthz/ready', baseUrl))).json();
    const { devices, sha256 } = readiness.checks.model.data;
    const serving = devices.filter(({ state }) => state === 'ready').map(({ device }) => device);
    assert.ok(serving.length > 0 && serving.every(device => typeof device === 'string' && device),
      `/healthz/ready reports the devices that serve: ${JSON.stringify(devices)}`);

    const page = await open(browser);
    const badge = page.locator('#health');
    await page.waitForFunction(() => document.getElementById('health').classList.contains('good'));
    assert.equal(await badge.textContent(), `Model ready · ${serving.join(', ')} · ${sha256.slice(0, 12)}`);

    // several workers: the badge lists those that serve, not one that failed (readiness is up while any serves)
    const deviceStatus = (device, state) => ({ ...devices[0], device, state, problem: state === 'failed' ? 'out of memory' : null });
    const several = structuredClone(readiness);
    several.checks.model.data.devices = [deviceStatus('cuda:0', 'ready'), deviceStatus('cuda:1', 'failed'), deviceStatus('cuda:2', 'ready')];
    await page.route('**/healthz/ready', route => route.fulfill({ json: several }));
    await page.reload();
    await page.waitForFunction(() => document.getElementById('health').classList.contains('good'));
    assert.equal(await badge.textContent(), `Model ready · cuda:0, cuda:2 · ${sha256.slice(0, 12)}`);
    await close(page);
  },

  async 'the page runs under its content security policy with no violations'(browser) {
    const page = await open(browser);
    const policy = directives(page.response.headers()['content-security-policy'] ?? assert.fail('the page has no Content-Security-Policy'));
    assert.equal(policy['script-src'], "'self'");
    assert.equal(policy['style-src'], "'self'");
    assert.equal(policy['frame-ancestors'], "'none'");

    // everything the page does: draw, predict, the heat map, patterns, text in and out, randomise
    await drawGlider(page);
    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    await noMessage(page);
    await page.getByLabel('P(alive) heat map').check();
    await page.getByRole('combobox', { name: 'Pattern' }).selectOption('pulsar');
    await page.getByRole('button', { name: 'Copy as RLE' }).click();
    await page.waitForFunction(() => document.getElementById('text').value.startsWith('x = 32'));
    await page.getByRole('button', { name: 'Load text' }).click();
    await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('Loaded RLE'));
    await page.getByRole('button', { name: /^Randomise/ }).click();
    assert.deepEqual(page.violations, [], 'no violations while the page works');
    assert.deepEqual(page.consoleErrors, [], 'no console errors while the page works');

    // and the policy is enforced, and seen: an inline script is blocked and reported
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.inlineScriptRan = true;';
      document.head.append(script);
    });
    await until(() => page.violations.length > 0, 'the report of the blocked inline script');
    assert.equal(await page.evaluate(() => window.inlineScriptRan), undefined, 'the inline script did not run');
    assert.deepEqual(page.violations, ['script-src-elem inline'], 'the blocked inline script is reported');
    page.violations = [];
    await close(page);
  },

  async 'swagger ui renders the api under its own policy with no violations'(browser) {
    const page = await newPage(browser);
    const response = await page.goto(new URL('/swagger/index.html', baseUrl).href);
    const policy = directives(response.headers()['content-security-policy'] ?? assert.fail('Swagger UI has no Content-Security-Policy'));
    assert.equal(policy['script-src'], "'self'", 'no inline script on Swagger UI either');
    assert.equal(policy['frame-ancestors'], "'none'");

    await page.locator('.opblock-summary-path', { hasText: /^\/predict$/ }).waitFor();
    await page.locator('.opblock-summary', { hasText: '/predict/batch' }).click();
    await page.getByRole('button', { name: 'Try it out' }).waitFor();
    assert.deepEqual(page.consoleErrors, [], 'no console errors on Swagger UI');
    await page.screenshot({ path: join(shots, 'swagger.png') });
    await close(page);
  },

  async 'the heat map colours are distinct from the legend colours'(browser) {
    const page = await open(browser);
    const heatColours = await rgb(page, await page.evaluate(async () => {
      const { heat } = await import('/board.js');
      return Array.from({ length: 21 }, (_, i) => heat(i / 20)); // P(alive) 0, 0.05, ..., 1
    }));
    // the legend's cell colours as its swatches show them: the heat map is drawn instead of alive cells, and the
    // model-only and rule-only rings are drawn over it (dead is left out: P(alive) near 0 is meant to look dead)
    const legend = Object.fromEntries(await page.$$eval('.legend .sw:is(.alive, .model-only, .rule-only):not(.ring)',
      swatches => swatches.map(swatch => [swatch.classList[1], getComputedStyle(swatch).backgroundColor])));
    assert.deepEqual(Object.keys(legend), ['alive', 'model-only', 'rule-only']);
    const legendColours = await rgb(page, Object.values(legend));
    const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    Object.keys(legend).forEach((name, i) => {
      const nearest = Math.min(...heatColours.map(colour => distance(colour, legendColours[i])));
      assert.ok(nearest >= 100, `the heat map comes within ${nearest.toFixed(0)} (RGB distance) of the legend's ${name} colour`);
    });
    await close(page);
  },

  async 'at 390 px wide the page fits the screen and the controls are on the first screen'(browser) {
    const page = await open(browser, { width: 390, height: 844 });
    assert.equal(await page.evaluate(() => window.scrollY), 0);
    for (const name of [/^Predict/, /^Step/, /^Play/]) {
      const box = await page.getByRole('button', { name }).boundingBox();
      assert.ok(box.y >= 0 && box.y + box.height <= 844, `${name} is on the first screen (${box.y} to ${box.y + box.height} px)`);
    }
    await page.screenshot({ path: join(shots, 'page-390-first-screen.png') });

    await page.getByRole('combobox', { name: 'Pattern' }).selectOption('glider');
    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    await noMessage(page);

    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'no sideways scrolling');
    for (const element of await page.locator('canvas, button, select, textarea, input').filter({ visible: true }).all()) {
      const box = await element.boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 390, `${await element.evaluate(e => e.id || e.outerHTML)} is inside the screen`);
    }
    const editor = await page.locator('#editor').boundingBox();
    assert.ok(editor.width >= 300, `the board is big enough to draw on (${editor.width} px)`);
    await page.screenshot({ path: join(shots, 'page-390.png'), fullPage: true });
    await close(page);
  },
};

// ---- Scenarios against a service that requires an API key (CONWAY_API_KEY is one of its keys) ----

const API_KEY = process.env.CONWAY_API_KEY;
const isApiCall = request => /^\/(predict|rollout|models|patterns|healthz)\b/.test(new URL(request.url()).pathname);

const apiKeyScenarios = {
  async 'without a key the page asks for one and a wrong key is said to be not accepted'(browser) {
    assert.ok(API_KEY, 'CONWAY_API_KEY is the key the service accepts');
    const page = await open(browser);
    const keyField = page.getByLabel('API key');
    assert.equal(await keyField.isVisible(), false, 'no key field before the service asks for one');
    await drawGlider(page);
    const message = page.locator('#message');

    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    assert.equal(await message.innerText(), 'The service needs an API key: enter yours in the API key field, then try again.');
    assert.equal(await keyField.isVisible(), true, 'the key field is shown');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'api-key', 'and focused');
    assert.equal(await text(page, '#step'), '0');

    await keyField.fill(`not-${API_KEY}`);
    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    assert.equal(await message.innerText(),
      'The service did not accept this API key: enter a valid one in the API key field, then try again.');
    assert.equal(await text(page, '#step'), '0');
    await page.screenshot({ path: join(shots, 'api-key.png') });
    await close(page);
  },

  async 'an entered key is sent on every api request and kept in session storage not the url'(browser) {
    assert.ok(API_KEY, 'CONWAY_API_KEY is the key the service accepts');
    const page = await open(browser);
    const requests = [];
    page.on('request', request => requests.push(request));
    await drawGlider(page);
    await page.getByRole('button', { name: /^Predict/ }).click(); // 401: the field appears
    await settled(page);

    await page.getByLabel('API key').fill(API_KEY);
    const keyed = requests.length;
    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    await noMessage(page);
    assert.equal(await cellsOf(page, 'model'), board(GLIDER_NEXT), "the model's next state, with the key");
    await page.getByRole('button', { name: 'Copy as RLE' }).click();
    await page.waitForFunction(() => document.getElementById('text').value.startsWith('x = 32'));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('conway.apiKey')), API_KEY, 'kept for this tab');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'and nowhere longer-lived');

    // a new page load in the same tab: the key is back in its field and sent from the first request on
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#pattern option')?.value === 'block');
    await page.waitForFunction(() => document.getElementById('health').classList.contains('good'));
    assert.equal(await page.getByLabel('API key').inputValue(), API_KEY);
    await page.getByRole('button', { name: /^Predict/ }).click();
    await settled(page);
    await noMessage(page);

    const apiCalls = requests.slice(keyed).filter(isApiCall);
    const paths = apiCalls.map(request => `${request.method()} ${new URL(request.url()).pathname}`);
    for (const path of ['POST /predict', 'POST /patterns/convert', 'GET /patterns', 'GET /healthz/ready'])
      assert.ok(paths.includes(path), `${path} was called after the key was entered: ${paths.join(', ')}`);
    for (const request of apiCalls)
      assert.equal(request.headers()['x-api-key'], API_KEY, `${request.method()} ${request.url()} carries the key`);
    for (const url of [...requests.map(request => request.url()), page.url()])
      assert.ok(!url.includes(API_KEY), `the key is not in ${url}`);
    await close(page);
  },
};

// ---- Scenarios against a service with two models: "ours" (the shipped one, the default) and "reference" ----

/** A 32x32 board with about 35% alive, the same every run (an LCG from seed 7), as plaintext: the reference model errs on it. */
function denseBoard() {
  let x = 7n;
  return Array.from({ length: SIZE }, () => Array.from({ length: SIZE }, () => {
    x = (x * 1103515245n + 12345n) % 2147483648n;
    return Number(x) / 2147483648 < 0.35 ? 'O' : '.';
  }).join('')).join('\n');
}

/** The NDJSON lines of a finished /rollout response. */
const linesOf = async response => (await response.text()).split('\n').filter(Boolean).map(line => JSON.parse(line));

const twoModelScenarios = {
  async 'comparing two models plays a rollout of each side by side with each first divergence marked'(browser) {
    const page = await open(browser);
    const picker = page.getByRole('combobox', { name: 'Model', exact: true });
    await page.waitForFunction(() => document.getElementById('model-pick').options.length === 2);
    assert.deepEqual(await picker.locator('option').allTextContents(), ['ours', 'reference'], 'the picker lists both models');
    assert.equal(await picker.inputValue(), 'ours', 'the default is picked');
    assert.equal(await page.locator('#model-b-panel').isVisible(), false, 'one model board until a second is picked');

    await page.getByLabel('Pattern text').fill(denseBoard());
    await page.getByRole('button', { name: 'Load text' }).click();
    await page.waitForFunction(() => document.getElementById('message').textContent.startsWith('Loaded plaintext'));
    await page.getByRole('combobox', { name: 'Compare with' }).selectOption('reference');
    assert.equal(await page.locator('#model-b-panel').isVisible(), true, "the second model's board is shown");
    await page.getByRole('spinbutton', { name: 'Steps' }).fill('3');
    const requests = recordApiRequests(page);
    const streams = [];
    page.on('response', response => { if (new URL(response.url()).pathname === '/rollout') streams.push(response); });

    await page.getByRole('button', { name: /^Play/ }).click();
    await settled(page);
    assert.equal(await page.getAttribute('#play', 'data-playing'), 'false', 'play ends with the rollouts');
    assert.deepEqual(requests.map(({ path, body }) => `${path} ${body.model} ${body.steps}`).sort(), ['POST /rollout ours 3', 'POST /rollout reference 3'],
      'one stream per model, the same options, no /predict');
    assert.equal(requests[0].body.board.join(''), requests[1].body.board.join(''), 'from the same start');

    const streamOf = model => streams.find(response => response.request().postDataJSON().model === model);
    const [ours, reference] = await Promise.all(['ours', 'reference'].map(model => linesOf(streamOf(model))));
    const [oursEnd, referenceEnd] = [ours.at(-1), reference.at(-1)];
    assert.deepEqual([oursEnd.reason, referenceEnd.reason], ['completed', 'completed']);
    assert.equal(oursEnd.firstDivergence, null, 'the shipped model steps this board exactly');
    assert.ok(Number.isInteger(referenceEnd.firstDivergence), `the reference model diverges: ${JSON.stringify(referenceEnd)}`);
    assert.equal(await text(page, '#message'),
      'The rollout of ours completed after 3 generations. The rollout of reference completed after 3 generations.');

    assert.equal(await text(page, '#step'), '3');
    assert.equal(await text(page, '#model-diverged'), 'none');
    assert.equal(await text(page, '#model-b-diverged'), `step ${referenceEnd.firstDivergence}`, 'the step the stream reported');
    assert.equal(await cellsOf(page, 'model'), ours[2].board.join(''), "ours' generation 3");
    assert.equal(await cellsOf(page, 'model-b'), reference[2].board.join(''), "the reference's generation 3");
    assert.equal(await cellsOf(page, 'rule'), ours[2].rule.join(''), "the rule's generation 3");
    assert.equal(await cellsOf(page, 'model'), await cellsOf(page, 'rule'));
    assert.match(await text(page, '#summary'), /^Step 3: ours matches the rule; reference differs from the rule in \d+ cells?\.$/);
    assert.match(await text(page, '#used-strategy'), /^speculative · ours@[0-9a-f]{12}, reference@[0-9a-f]{12}$/);
    await page.screenshot({ path: join(shots, 'compare.png'), fullPage: true });

    // at 390 px the three boards stack, each as wide as the screen allows
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.getElementById('model').getBoundingClientRect().width >= 300);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'no sideways scrolling');
    const boxes = await Promise.all(['#model', '#model-b', '#rule'].map(id => page.locator(id).boundingBox()));
    for (const box of boxes) assert.ok(box.x >= 0 && box.x + box.width <= 390 && box.width >= 300, `a board is on the screen and big (${JSON.stringify(box)})`);
    assert.ok(boxes[0].y < boxes[1].y && boxes[1].y < boxes[2].y, 'one above the other');
    await page.screenshot({ path: join(shots, 'compare-390.png'), fullPage: true });
    await close(page);
  },
};

// ---- Runner ----

const all = { ...scenarios, ...apiKeyScenarios, ...twoModelScenarios };
const names = only.length ? only : Object.keys(API_KEY ? apiKeyScenarios : scenarios);
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({ executablePath, args: chromiumArgs, headless: true, timeout: 60_000 });
let failed = 0;
for (const name of names) {
  const started = Date.now();
  try {
    if (!all[name]) throw new Error(`no scenario is named '${name}'; there are: ${Object.keys(all).join('; ')}`);
    await all[name](browser);
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name} (${Date.now() - started} ms)\n${error.stack ?? error}`);
  }
}
await browser.close();
console.log(`${names.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
