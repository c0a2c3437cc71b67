// Boards: a 32x32 torus as 1024 cells (Uint8Array, row-major, 1 alive), the exact rule, and drawing on a canvas.
export const SIZE = 32;
export const CELLS = SIZE * SIZE;

export const empty = () => new Uint8Array(CELLS);
export const fromRows = rows => Uint8Array.from(rows.join(''), ch => (ch === '1' ? 1 : 0));
export const toRows = cells => Array.from({ length: SIZE }, (_, r) => cells.subarray(r * SIZE, (r + 1) * SIZE).join(''));
export const population = cells => cells.reduce((n, alive) => n + alive, 0);
export const countDifferences = (a, b) => a.reduce((n, alive, i) => n + (alive !== b[i]), 0);
export const wrap = i => ((i % SIZE) + SIZE) % SIZE;

export function random(density) {
  return Uint8Array.from({ length: CELLS }, () => (Math.random() < density ? 1 : 0));
}

/** The exact rule, B3/S23, on the torus (used for the rule's own trajectory while playing). */
export function lifeStep(cells) {
  const next = empty();
  for (let r = 0; r < SIZE; r++) {
    for (let c = 0; c < SIZE; c++) {
      let n = 0;
      for (let dr = -1; dr <= 1; dr++)
        for (let dc = -1; dc <= 1; dc++) if (dr || dc) n += cells[wrap(r + dr) * SIZE + wrap(c + dc)];
      next[r * SIZE + c] = n === 3 || (n === 2 && cells[r * SIZE + c]) ? 1 : 0;
    }
  }
  return next;
}

/** The cell under a pointer event, or null outside the canvas. */
export function cellAt(canvas, event) {
  const box = canvas.getBoundingClientRect();
  const r = Math.floor(((event.clientY - box.top) / box.height) * SIZE);
  const c = Math.floor(((event.clientX - box.left) / box.width) * SIZE);
  return r >= 0 && r < SIZE && c >= 0 && c < SIZE ? { r, c } : null;
}

const palette = () => {
  const style = getComputedStyle(document.documentElement);
  const get = name => style.getPropertyValue(name).trim();
  return { grid: get('--grid'), dead: get('--dead'), alive: get('--alive'), modelOnly: get('--model-only'),
    ruleOnly: get('--rule-only'), cursor: get('--focus'), blank: get('--blank') };
};

/**
 * P(alive) as a colour: dark indigo through blue to mint (app.css's .sw.heat is the same ramp). No yellow or pink:
 * those are the legend's model-only and rule-only colours, drawn as rings over the heat map.
 */
export const heat = p => `hsl(${250 - 90 * p} 75% ${14 + 52 * p}%)`;

/**
 * Draws a board. cells null: nothing to show yet. other: the board to compare with; cells alive only here are
 * filled with `mine`, cells alive only there are ringed with `theirs`. pAlive: 1024 probabilities drawn as a heat map.
 */
export function draw(canvas, cells, { other = null, mine = 'modelOnly', theirs = 'ruleOnly', pAlive = null, cursor = null } = {}) {
  const colours = palette();
  // Whole device pixels per cell, so that every grid line is as thick as the next: the canvas fills its
  // holder's width, less what does not divide by 32.
  const ratio = window.devicePixelRatio || 1;
  const holder = getComputedStyle(canvas.parentElement);
  const width = canvas.parentElement.clientWidth - parseFloat(holder.paddingLeft) - parseFloat(holder.paddingRight);
  const px = Math.max(2, Math.floor((width * ratio) / SIZE)) * SIZE;
  if (canvas.width !== px) {
    canvas.width = canvas.height = px;
    canvas.style.width = `${px / ratio}px`;
  }
  const ctx = canvas.getContext('2d');
  const line = Math.max(1, Math.round(ratio * 0.75));
  const edge = i => (i * px) / SIZE;
  ctx.fillStyle = colours.grid;
  ctx.fillRect(0, 0, px, px);
  const ring = (x, y, w, colour) => {
    const t = Math.max(2, Math.round(w / 5));
    ctx.strokeStyle = colours[colour];
    ctx.lineWidth = t;
    ctx.strokeRect(x + t / 2, y + t / 2, w - t, w - t);
  };
  for (let r = 0; r < SIZE; r++) {
    for (let c = 0; c < SIZE; c++) {
      const i = r * SIZE + c;
      const x = edge(c) + line, y = edge(r) + line, w = edge(c + 1) - edge(c) - line;
      const alive = cells?.[i] === 1;
      const differs = other && cells && other[i] !== cells[i];
      ctx.fillStyle = !cells ? colours.blank
        : pAlive ? heat(pAlive[i])
        : differs && alive ? colours[mine]
        : alive ? colours.alive : colours.dead;
      ctx.fillRect(x, y, w, w);
      if (differs && pAlive) ring(x, y, w, alive ? mine : theirs);
      else if (differs && !alive) ring(x, y, w, theirs);
    }
  }
  if (cursor) {
    const x = edge(cursor.c), y = edge(cursor.r), w = edge(cursor.c + 1) - x + line;
    ctx.strokeStyle = colours.cursor;
    ctx.lineWidth = Math.max(2, Math.round(ratio * 2));
    ctx.strokeRect(x + ctx.lineWidth / 2, y + ctx.lineWidth / 2, w - ctx.lineWidth, w - ctx.lineWidth);
  }
  canvas.dataset.cells = cells ? cells.join('') : '';
}
