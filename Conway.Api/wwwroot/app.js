// The page: edit a board, ask the service for the model's next state, compare it with the exact rule, play.
import { SIZE, empty, fromRows, toRows, population, countDifferences, random, lifeStep, cellAt, draw, wrap } from './board.js';

const $ = id => document.getElementById(id);
const ui = Object.fromEntries(['editor', 'model', 'model-b', 'model-b-panel', 'rule', 'population', 'model-name', 'model-note',
  'model-diverged', 'model-b-name', 'model-b-note', 'model-b-diverged', 'rule-note', 'rule-hint', 'summary', 'step',
  'latency', 'used-strategy', 'message', 'health', 'predict', 'model-pick', 'compare-pick', 'strategy', 'heat', 'play',
  'play-label', 'stepper', 'steps', 'feed', 'delay', 'delay-out', 'clear', 'randomise', 'density', 'density-out', 'pattern',
  'load-pattern', 'text', 'paste', 'copy', 'announce', 'api-key', 'api-key-field']
  .map(id => [id.replace(/-(\w)/g, (_, ch) => ch.toUpperCase()), $(id)]));

const state = {
  board: empty(),       // the board being edited: the start of every run
  // { step, rule, strategy, lanes }: the rule's state after `step` steps, and each model's (one lane, two when comparing):
  // { asked, model, version, board, pAlive, divergedAt }: the name asked for ('' the default), and the model that answered
  run: null,
  cursor: { r: 0, c: 0 },
  playing: false,
  busy: null,           // the AbortController of the request (or the rollouts) in flight
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

/** Sends a request to the API; answers the response when it is 2xx, else throws a ServiceError that says what went wrong in words. */
async function send(path, body, signal, accept = 'application/json') {
  const headers = { Accept: accept, ...apiKeyHeader() };
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
  if (response.ok) return response;
  if (response.status === 401) showApiKeyField({ focus: true });
  let problem = {};
  try { problem = await response.json(); } catch { /* not problem+json: say what we know */ }
  throw new ServiceError(describe(response.status, problem, response.headers.get('Retry-After'), sentApiKey));
}

/** Calls the API; answers its JSON. */
const call = async (path, body, signal) => (await send(path, body, signal)).json();

/** POSTs to a streaming endpoint (NDJSON) and yields each line's JSON as it arrives. */
async function* stream(path, body, signal) {
  const response = await send(path, body, signal, 'application/x-ndjson');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (buffered + value).split('\n');
    buffered = lines.pop(); // the part of a line still to come
    for (const line of lines) if (line.trim()) yield JSON.parse(line);
  }
  if (buffered.trim()) yield JSON.parse(buffered);
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

/** Where each lane of a run is shown: the picked model's, and the compared model's. */
const laneViews = [
  { canvas: ui.model, name: ui.modelName, note: ui.modelNote, diverged: ui.modelDiverged, pick: ui.modelPick, says: "The model's" },
  { canvas: ui.modelB, name: ui.modelBName, note: ui.modelBNote, diverged: ui.modelBDiverged, pick: ui.comparePick, says: "The second model's" },
];

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function render() {
  const run = state.run;
  const comparing = Boolean(ui.comparePick.value);
  const focused = document.activeElement === ui.editor;
  draw(ui.editor, state.board, { cursor: focused ? state.cursor : null });
  ui.modelBPanel.hidden = !comparing;
  ui.modelBPanel.parentElement.classList.toggle('compare', comparing);
  ui.ruleHint.hidden = comparing;
  const shown = run?.lanes.filter(lane => lane.board) ?? [];
  laneViews.forEach((view, i) => {
    const lane = run?.lanes[i]?.board ? run.lanes[i] : null;
    draw(view.canvas, lane?.board ?? null, { other: run?.rule, mine: 'modelOnly', theirs: 'ruleOnly', pAlive: ui.heat.checked ? lane?.pAlive : null });
    view.name.textContent = lane?.model ?? (view.pick.value || 'LifeGPT');
    view.note.textContent = lane ? `${population(lane.board)} alive` : '';
    view.diverged.textContent = !lane ? '—' : lane.divergedAt ? `step ${lane.divergedAt}` : 'none';
    view.diverged.classList.toggle('bad', Boolean(lane?.divergedAt));
    view.canvas.setAttribute('aria-label', lane
      ? `${view.says} state at step ${run.step} (${lane.model}): ${population(lane.board)} alive, ${plural(countDifferences(lane.board, run.rule), 'cell')} differ from the rule`
      : `${view.says} next state: none yet`);
  });
  draw(ui.rule, run?.rule ?? null, comparing ? {} : { other: shown[0]?.board, mine: 'ruleOnly', theirs: 'modelOnly' });
  ui.population.textContent = `${population(state.board)} alive`;
  ui.step.textContent = run ? run.step : 0;
  ui.ruleNote.textContent = run ? `${population(run.rule)} alive` : '';
  ui.rule.setAttribute('aria-label', run ? `The exact rule's state at step ${run.step}: ${population(run.rule)} alive` : "The exact rule's next state: none yet");
  ui.usedStrategy.textContent = run ? `${run.strategy} · ${shown.map(lane => `${lane.model}@${lane.version}`).join(', ')}` : '—';
  const differ = shown.map(lane => countDifferences(lane.board, run.rule));
  const waiting = state.busy && !(state.playing && run);
  ui.summary.className = run && !waiting ? (differ.some(Boolean) ? 'bad' : 'good') : '';
  ui.summary.textContent = waiting ? (state.playing ? `Starting the rollout (${ui.strategy.value})…` : `Predicting step ${state.pending} (${ui.strategy.value})…`)
    : !run ? 'Draw or load a board, then Predict.'
    : shown.length > 1 ? `Step ${run.step}: ${shown.map((lane, i) => `${lane.model} ${differ[i] ? `differs from the rule in ${plural(differ[i], 'cell')}` : 'matches the rule'}`).join('; ')}.`
    : differ[0] ? `Step ${run.step}: the model differs from the rule in ${plural(differ[0], 'cell')}.`
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

/** The models a run asks for: the picked one, and the compared one when there is one ('' is the service's default). */
const chosenModels = () => [ui.modelPick.value, ...(ui.comparePick.value ? [ui.comparePick.value] : [])];
const modelField = name => (name ? { model: name } : {});

/** A run at step 0: every lane and the rule at the board. */
const startRun = models => ({
  step: 0, rule: state.board, strategy: ui.strategy.value,
  lanes: models.map(asked => ({ asked, model: asked, version: null, board: state.board, pAlive: null, divergedAt: null })),
});

/** Whether a run can go on with these models: it has a board for each, in this order. */
const continues = (run, models) => run?.lanes.length === models.length && run.lanes.every((lane, i) => lane.asked === models[i] && lane.board);

/**
 * One step for each lane (a /predict each, from the lane's own board, or from the board on a restart); the rule's own
 * trajectory steps alongside.
 */
async function advance({ restart = false } = {}) {
  if (state.busy) return false;
  const models = chosenModels();
  const from = !restart && continues(state.run, models) ? state.run : startRun(models);
  const controller = (state.busy = new AbortController());
  state.pending = from.step + 1;
  render();
  const started = performance.now();
  const ok = await attempt(async () => {
    const answers = await Promise.all(from.lanes.map(lane => call('/predict', {
      board: toRows(lane.board), ...modelField(lane.asked), strategy: ui.strategy.value, probabilities: true, // so the heat map toggles at once
    }, controller.signal)));
    if (state.busy !== controller) return; // stopped, or the board was edited: these answers belong to nobody
    // While the first lane agrees with the rule, the service's rule is the rule's next state too; after, the page steps it.
    const rule = countDifferences(from.lanes[0].board, from.rule) === 0 ? fromRows(answers[0].rule) : lifeStep(from.rule);
    const step = from.step + 1;
    state.run = {
      step, rule, strategy: answers[0].strategy,
      lanes: from.lanes.map((lane, i) => {
        const board = fromRows(answers[i].next);
        return { asked: lane.asked, model: answers[i].model, version: answers[i].modelVersion, board, pAlive: answers[i].pAlive.flat(),
          divergedAt: lane.divergedAt ?? (countDifferences(board, rule) ? step : null) };
      }),
    };
    ui.latency.textContent = `${answers.map(answer => `${Math.round(answer.elapsedMs)} ms`).join(', ')} (round trip ${Math.round(performance.now() - started)} ms)`;
    showMessage('');
  });
  if (state.busy === controller) state.busy = null;
  render();
  return ok;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/**
 * The run as far as every lane still streaming has got: step s is the least step those lanes have received (the most
 * any lane received once all have ended), and each lane shows its generation s (or its last, if it ended before).
 */
function runAt(lanes, strategy) {
  const reach = lane => lane.queue.at(-1)?.step ?? lane.shown?.step ?? 0;
  const streaming = lanes.filter(lane => !lane.done);
  const step = streaming.length ? Math.min(...streaming.map(reach)) : Math.max(...lanes.map(reach));
  for (const lane of lanes) while (lane.queue.length && lane.queue[0].step <= step) lane.shown = lane.queue.shift();
  const at = lanes.find(lane => lane.shown?.step === step)?.shown;
  if (!at) return null;
  return {
    step, rule: fromRows(at.rule), strategy,
    lanes: lanes.map(({ asked, shown }) => ({
      asked, model: shown?.model ?? asked, version: shown?.modelVersion ?? null, board: shown ? fromRows(shown.board) : null,
      pAlive: shown?.pAlive?.flat() ?? null, divergedAt: shown?.firstDivergence ?? null,
    })),
  };
}

const endings = {
  completed: 'completed', deadline: 'ran past its deadline', shutdown: 'stopped: the service is shutting down',
  failed: 'stopped: the model failed', busy: 'stopped: the model is busy',
};

/** Says how each lane's rollout ended: its end line's reason, with the problem's detail when it did not complete. */
function reportEnds(lanes) {
  if (lanes.some(lane => !lane.ok)) return; // a request failed: its message is showing
  const said = lanes.map(({ asked, shown, end }) => {
    const who = shown?.model ?? (asked || 'the model');
    if (!end) return `The rollout of ${who} broke off after ${plural(shown?.step ?? 0, 'generation')}.`;
    const problem = end.problem ? `: ${end.problem.detail ?? end.problem.title}` : '.';
    return `The rollout of ${who} ${endings[end.reason] ?? end.reason} after ${plural(end.steps, 'generation')}${problem}`;
  });
  showMessage(said.join(' '), lanes.every(lane => lane.end?.reason === 'completed') ? 'info' : 'error');
}

/**
 * Play: one POST /rollout stream per lane (two when comparing), from the board, each generation drawn as it arrives
 * (at most one a lane per `delay`); Stop aborts the streams, and the service stops the rollouts.
 */
async function play() {
  if (state.playing) return stop();
  if (state.busy) return; // a step is on its way: Play once it is in
  const controller = (state.busy = new AbortController());
  state.playing = true;
  state.run = null;
  showMessage('');
  ui.latency.textContent = '—';
  render();
  const strategy = ui.strategy.value;
  const body = { board: toRows(state.board), steps: Number(ui.steps.value), feed: ui.feed.value, strategy, probabilities: ui.heat.checked };
  const lanes = chosenModels().map(asked => ({ asked, queue: [], shown: null, done: false, end: null, ok: false }));
  const started = performance.now();
  const show = () => {
    if (state.busy !== controller) return; // stopped: what is on the page stays
    state.run = runAt(lanes, strategy) ?? state.run;
    if (state.run) ui.latency.textContent = `${Math.round((performance.now() - started) / state.run.step)} ms a generation`;
    render();
  };
  await Promise.all(lanes.map(async lane => {
    lane.ok = await attempt(async () => {
      try {
        let last = performance.now();
        for await (const line of stream('/rollout', { ...body, ...modelField(lane.asked) }, controller.signal)) {
          if (line.type === 'end') { lane.end = line; break; }
          lane.queue.push(line);
          show();
          const wait = Number(ui.delay.value) - (performance.now() - last);
          if (wait > 0) await sleep(wait);
          last = performance.now();
        }
      } finally {
        lane.done = true;
        show();
      }
    });
  }));
  if (state.busy !== controller) return; // stopped
  state.busy = null;
  state.playing = false;
  reportEnds(lanes);
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
  ui.latency.textContent = '—';
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

// ---- Models ----

/**
 * Fills the pickers from GET /models: each model by name, the default picked, a failed one disabled with its problem
 * as the title. Quietly does nothing when the list is refused (a service with API keys, before one is entered): the
 * page then asks for the default model, and tries again once a key is entered.
 */
async function loadModels() {
  let models;
  try {
    const response = await fetch('/models', { headers: apiKeyHeader() });
    if (!response.ok) return;
    ({ models } = await response.json());
  } catch {
    return; // the health badge says when the service is not reachable
  }
  const option = ({ name, state, devices }) => {
    const choice = new Option(name, name);
    choice.disabled = state === 'failed';
    if (state !== 'ready') choice.title = devices.map(({ device, problem }) => `${device}: ${problem ?? state}`).join('; ');
    return choice;
  };
  const picked = [ui.modelPick.value || models.find(model => model.default)?.name, ui.comparePick.value];
  ui.modelPick.replaceChildren(...models.map(option));
  ui.comparePick.replaceChildren(new Option('no other model', ''), ...models.map(option));
  [ui.modelPick.value, ui.comparePick.value] = picked;
  render();
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
ui.apiKey.addEventListener('change', loadModels);
ui.modelPick.addEventListener('change', render);
ui.comparePick.addEventListener('change', render);
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
loadModels();
watchHealth();
