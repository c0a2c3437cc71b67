// The page: edit a board, ask the service for the model's next state, compare it with the exact rule, play.
import { SIZE, empty, fromRows, toRows, population, countDifferences, random, lifeStep, cellAt, draw, wrap } from './board.js';

const $ = id => document.getElementById(id);
const ui = Object.fromEntries(['editor', 'model', 'rule', 'population', 'model-note', 'rule-note', 'summary', 'step',
  'diverged', 'latency', 'used-strategy', 'message', 'health', 'predict', 'strategy', 'heat', 'play', 'play-label', 'stepper',
  'delay', 'delay-out', 'clear', 'randomise', 'density', 'density-out', 'pattern', 'load-pattern', 'text', 'paste',
  'copy', 'announce', 'api-key', 'api-key-field'].map(id => [id.replace(/-(\w)/g, (_, ch) => ch.toUpperCase()), $(id)]));

const state = {
  board: empty(),       // the board being edited: the start of every run
  run: null,            // { model, rule, pAlive, step, divergedAt }: the model's and the rule's trajectories
  cursor: { r: 0, c: 0 },
  playing: false,
  busy: null,           // the AbortController of the request in flight
  pending: 0,           // the step it asks for
};

// ---- The API key ----

// A service with Auth:ApiKeys answers 401 without one: the page then shows the API key field. The key is sent as
// X-Api-Key on every request and kept in sessionStorage (this tab only), never in the URL.
const API_KEY_STORAGE = 'conway.apiKey';

const apiKey = () => ui.apiKey.value.trim();
const apiKeyHeader = () => (apiKey() ? { 'X-Api-Key': apiKey() } : {});

function showApiKeyField({ focus = false } = {}) {
  ui.apiKeyField.hidden = false;
  if (focus) ui.apiKey.focus();
}

function keepApiKey() {
  try {
    if (apiKey()) sessionStorage.setItem(API_KEY_STORAGE, apiKey());
    else sessionStorage.removeItem(API_KEY_STORAGE);
  } catch { /* no session storage here: the key lasts as long as the page */ }
}

function restoreApiKey() {
  let kept = null;
  try { kept = sessionStorage.getItem(API_KEY_STORAGE); } catch { /* no session storage here */ }
  if (!kept) return;
  ui.apiKey.value = kept;
  showApiKeyField();
}

// ---- The service ----

class ServiceError extends Error {}

/** Calls the API; answers its JSON, or throws a ServiceError that says what went wrong in words. */
async function call(path, body, signal) {
  const headers = apiKeyHeader();
  const sentApiKey = 'X-Api-Key' in headers;
  let response;
  try {
    response = await fetch(path, body === undefined ? { headers, signal } : {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body), signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ServiceError(`Could not reach the service (${error.message}). Is it running?`);
  }
  if (response.ok) return response.json();
  if (response.status === 401) showApiKeyField({ focus: true });
  let problem = {};
  try { problem = await response.json(); } catch { /* not problem+json: say what we know */ }
  throw new ServiceError(describe(response.status, problem, response.headers.get('Retry-After'), sentApiKey));
}

function describe(status, problem, retryAfter, sentApiKey) {
  const detail = problem.detail ?? problem.title ?? `HTTP ${status}`;
  switch (status) {
    case 400: {
      const more = Object.entries(problem.errors ?? {}).slice(1).map(([field, [first]]) => ` ${field}: ${first}`).join('');
      return `The service rejected the input: ${detail.replace(/ \(\d+ more in 'errors'\)$/, '')}${more}`;
    }
    case 401: return sentApiKey
      ? 'The service did not accept this API key: enter a valid one in the API key field, then try again.'
      : 'The service needs an API key: enter yours in the API key field, then try again.';
    case 413: return `Too large for the service: ${detail}`;
    case 429: return `The model is busy: ${detail} Try again in ${retryAfter ?? 'a few'} s.`;
    case 503: return `The model is not available: ${detail}`;
    default: return `The service answered ${status} ${problem.title ?? ''}: ${detail}`;
  }
}

function showMessage(text, kind = 'error') {
  ui.message.textContent = text;
  ui.message.className = `message ${kind}`;
  ui.message.hidden = !text;
}

/** Runs an action that talks to the service, showing its failure on the page; true when it succeeded. */
async function attempt(action) {
  try {
    await action();
    return true;
  } catch (error) {
    if (error.name === 'AbortError') return false;
    showMessage(error instanceof ServiceError ? error.message : `Something went wrong in the page: ${error.message}`);
    return false;
  }
}

// ---- Drawing ----

function render() {
  const run = state.run;
  const focused = document.activeElement === ui.editor;
  draw(ui.editor, state.board, { cursor: focused ? state.cursor : null });
  draw(ui.model, run?.model ?? null, { other: run?.rule, mine: 'modelOnly', theirs: 'ruleOnly', pAlive: ui.heat.checked ? run?.pAlive : null });
  draw(ui.rule, run?.rule ?? null, { other: run?.model, mine: 'ruleOnly', theirs: 'modelOnly' });
  ui.population.textContent = `${population(state.board)} alive`;
  ui.step.textContent = run ? run.step : 0;
  ui.diverged.textContent = run?.divergedAt ? `at step ${run.divergedAt}` : run ? 'not yet' : '—';
  ui.diverged.classList.toggle('bad', Boolean(run?.divergedAt));
  const differ = run ? countDifferences(run.model, run.rule) : 0;
  ui.modelNote.textContent = run ? `${population(run.model)} alive` : '';
  ui.ruleNote.textContent = run ? `${population(run.rule)} alive` : '';
  ui.model.setAttribute('aria-label', run ? `The model's state at step ${run.step}: ${population(run.model)} alive, ${differ} cells differ from the rule` : "The model's next state: none yet");
  ui.rule.setAttribute('aria-label', run ? `The exact rule's state at step ${run.step}: ${population(run.rule)} alive` : "The exact rule's next state: none yet");
  ui.summary.className = run && !state.busy ? (differ ? 'bad' : 'good') : '';
  ui.summary.textContent = state.busy ? `Predicting step ${state.pending} (${ui.strategy.value})…`
    : !run ? 'Draw or load a board, then Predict.'
    : differ ? `Step ${run.step}: the model differs from the rule in ${differ} cell${differ === 1 ? '' : 's'}.`
    : `Step ${run.step}: the model matches the exact rule.`;
  const label = state.playing ? 'Stop' : 'Play';
  if (ui.playLabel.textContent !== label) ui.playLabel.textContent = label; // a click's target must survive a render
  ui.play.dataset.playing = state.playing;
  // aria-disabled, not disabled: a focused button keeps the focus while the model works (clicks are ignored then)
  ui.predict.setAttribute('aria-disabled', Boolean(state.busy));
  ui.stepper.setAttribute('aria-disabled', Boolean(state.busy) || state.playing);
  ui.play.setAttribute('aria-disabled', Boolean(state.busy) && !state.playing);
  document.body.classList.toggle('busy', Boolean(state.busy));
}

// ---- Predicting and playing ----

/** One model step from the run's model state (or from the board); the rule's own trajectory steps alongside. */
async function advance({ restart = false } = {}) {
  if (state.busy) return false;
  const from = !restart && state.run ? state.run : { model: state.board, rule: state.board, step: 0, divergedAt: null };
  const controller = (state.busy = new AbortController());
  state.pending = from.step + 1;
  render();
  const started = performance.now();
  const ok = await attempt(async () => {
    const answer = await call('/predict', {
      board: toRows(from.model), strategy: ui.strategy.value, probabilities: true, // so the heat map toggles at once
    }, controller.signal);
    if (state.busy !== controller) return; // stopped, or the board was edited: this answer belongs to nobody
    const model = fromRows(answer.next);
    // While the two trajectories agree, the service's rule is the rule's next state too; after, the page steps it.
    const rule = countDifferences(from.model, from.rule) === 0 ? fromRows(answer.rule) : lifeStep(from.rule);
    const step = from.step + 1;
    const divergedAt = from.divergedAt ?? (countDifferences(model, rule) ? step : null);
    state.run = { model, rule, pAlive: answer.pAlive.flat(), step, divergedAt };
    ui.latency.textContent = `${Math.round(answer.elapsedMs)} ms (round trip ${Math.round(performance.now() - started)} ms)`;
    ui.usedStrategy.textContent = `${answer.strategy} · model ${answer.model}@${answer.modelVersion}`;
    showMessage('');
  });
  if (state.busy === controller) state.busy = null;
  render();
  return ok;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function play() {
  if (state.playing) return stop();
  if (state.busy) return; // a step is on its way: Play once it is in
  state.playing = true;
  render();
  while (state.playing) {
    const started = performance.now();
    if (!(await advance())) break;
    const wait = Number(ui.delay.value) - (performance.now() - started);
    if (state.playing && wait > 0) await sleep(wait);
  }
  state.playing = false;
  render();
}

function stop() {
  state.playing = false;
  state.busy?.abort();
  state.busy = null;
  render();
}

// ---- Editing ----

/** Replaces the board; any run (and request in flight) belongs to the old board and is dropped. */
function setBoard(cells) {
  stop();
  state.board = cells;
  state.run = null;
  ui.latency.textContent = ui.usedStrategy.textContent = '—';
  render();
}

function setCell(r, c, alive) {
  if (state.board[r * SIZE + c] === alive) return;
  const next = state.board.slice();
  next[r * SIZE + c] = alive;
  setBoard(next);
}

let painting = null; // the value a drag paints, from its first cell
ui.editor.addEventListener('pointerdown', event => {
  const at = cellAt(ui.editor, event);
  if (!at || event.button !== 0) return;
  event.preventDefault();
  ui.editor.focus({ preventScroll: true });
  ui.editor.setPointerCapture(event.pointerId);
  painting = state.board[at.r * SIZE + at.c] ? 0 : 1;
  state.cursor = at;
  setCell(at.r, at.c, painting);
});
ui.editor.addEventListener('pointermove', event => {
  const at = painting !== null && cellAt(ui.editor, event);
  if (!at) return;
  state.cursor = at;
  setCell(at.r, at.c, painting);
});
for (const type of ['pointerup', 'pointercancel']) ui.editor.addEventListener(type, () => { painting = null; });

const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
ui.editor.addEventListener('keydown', event => {
  const { r, c } = state.cursor;
  if (moves[event.key]) {
    const [dr, dc] = moves[event.key];
    state.cursor = { r: wrap(r + dr), c: wrap(c + dc) }; // the board is a torus: the cursor wraps too
  } else if (event.key === 'Enter' || event.key === ' ') {
    setCell(r, c, state.board[r * SIZE + c] ? 0 : 1);
  } else return;
  event.preventDefault();
  event.stopPropagation();
  const { r: row, c: col } = state.cursor;
  ui.announce.textContent = `Row ${row + 1}, column ${col + 1}: ${state.board[row * SIZE + col] ? 'alive' : 'dead'}`;
  render();
});
ui.editor.addEventListener('focus', render);
ui.editor.addEventListener('blur', render);

// ---- Patterns and text ----

let catalogue = [];

async function loadCatalogue() {
  await attempt(async () => {
    catalogue = await call('/patterns');
    ui.pattern.replaceChildren(...catalogue.map(({ name }) => new Option(name, name)));
  });
  if (!catalogue.length) ui.pattern.replaceChildren(new Option('(no patterns)', ''));
}

function loadPattern() {
  const pattern = catalogue.find(({ name }) => name === ui.pattern.value);
  if (pattern) setBoard(fromRows(pattern.board));
}

/** RLE has an 'x = ...' header; plaintext is rows of '.', 'O' and '*' under '!' comments. Anything else is sent as RLE. */
function textForm(text) {
  const rows = text.split(/\r?\n/).filter(line => line.trim() && !line.startsWith('!'));
  return !/^\s*x\s*=/m.test(text) && rows.length && rows.every(line => /^[.O*]+\s*$/.test(line)) ? 'cells' : 'rle';
}

async function pasteText() {
  const text = ui.text.value;
  if (!text.trim()) return showMessage('Paste an RLE or plaintext pattern into the text box first.', 'info');
  await attempt(async () => {
    const form = textForm(text);
    const answer = await call('/patterns/convert', { [form]: text });
    setBoard(fromRows(answer.board));
    showMessage(`Loaded ${form === 'rle' ? 'RLE' : 'plaintext'}: ${answer.population} alive.`, 'info');
  });
}

async function copyRle() {
  await attempt(async () => {
    const { rle } = await call('/patterns/convert', { board: toRows(state.board) });
    ui.text.value = rle;
    try {
      await navigator.clipboard.writeText(rle);
      showMessage('Copied the board as RLE (also in the text box).', 'info');
    } catch {
      ui.text.select();
      showMessage('The board as RLE is in the text box (the clipboard is not available here).', 'info');
    }
  });
}

// ---- Health ----

async function watchHealth() {
  for (let wait = 1000; ; wait = Math.min(wait * 2, 10000)) {
    try {
      const response = await fetch('/healthz/ready', { headers: apiKeyHeader() });
      const model = (await response.json()).checks?.model;
      if (response.ok) {
        const serving = model.data.devices.filter(({ state }) => state === 'ready').map(({ device }) => device);
        ui.health.textContent = `Model ready · ${serving.join(', ')} · ${model.data.sha256.slice(0, 12)}`;
        ui.health.className = 'pill good';
        return;
      }
      ui.health.textContent = model?.description ?? 'The model is not ready.';
      ui.health.className = 'pill warn';
    } catch {
      ui.health.textContent = 'The service is not reachable.';
      ui.health.className = 'pill bad';
    }
    await sleep(wait);
  }
}

// ---- Wiring ----

ui.predict.addEventListener('click', () => {
  if (state.busy) return;
  stop();
  advance({ restart: true });
});
ui.play.addEventListener('click', play);
ui.stepper.addEventListener('click', () => { if (!state.playing) advance(); });
ui.clear.addEventListener('click', () => setBoard(empty()));
ui.randomise.addEventListener('click', () => setBoard(random(Number(ui.density.value) / 100)));
ui.pattern.addEventListener('change', loadPattern);
ui.loadPattern.addEventListener('click', loadPattern);
ui.paste.addEventListener('click', pasteText);
ui.copy.addEventListener('click', copyRle);
ui.heat.addEventListener('change', render);
ui.delay.addEventListener('input', () => { ui.delayOut.textContent = `${ui.delay.value} ms`; });
ui.density.addEventListener('input', () => { ui.densityOut.textContent = `${ui.density.value}%`; });
ui.apiKey.addEventListener('input', keepApiKey);
window.addEventListener('resize', render);

const shortcuts = { p: ui.predict, ' ': ui.play, s: ui.stepper, c: ui.clear, r: ui.randomise };
document.addEventListener('keydown', event => {
  const typing = event.target.closest?.('textarea, select, input:not([type=checkbox]):not([type=range])');
  if (event.ctrlKey || event.metaKey || event.altKey || typing) return;
  const key = event.key.toLowerCase();
  if (key === ' ' && event.target.closest?.('button, input')) return; // Space presses the focused control
  if (key === 'h') ui.heat.click();
  else if (shortcuts[key]) shortcuts[key].click();
  else return;
  event.preventDefault();
});

restoreApiKey();
render();
loadCatalogue();
watchHealth();
