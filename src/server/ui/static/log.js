// The job log viewer (docs/adr/0011-web-ui.md, point 9): only the rows on
// screen are in the DOM; lines come from /scheduler/job/<id>/log_lines in
// chunks by line number, so line 900,000 of a 100 MB log costs what line 1
// does. Anchors #L<n> (1-based) scroll to a line. While the job runs, new
// lines are appended; "follow" keeps the end in view, and when it is off a
// pill counts the lines that arrived.

const CHUNK = 500;
const KEEP_CHUNKS = 40;
const OVERSCAN = 20;

const head = document.getElementById('job');
const box = document.getElementById('log');
if (head && box) start();

function start() {
  const job = head.dataset.job;
  const row = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row')) || 18;
  let total = parseInt(head.dataset.lines, 10) || 0;
  let state = head.dataset.state;
  const chunks = new Map();   // chunk index -> array of lines (or a Promise while loading)
  const spacer = document.createElement('div');
  spacer.className = 'spacer';
  const layer = document.createElement('div');
  layer.className = 'rows';
  box.replaceChildren(spacer, layer);
  const pool = [];
  const follow = document.getElementById('log-follow');
  const count = document.getElementById('log-count');
  const pill = document.getElementById('log-new');
  let unseen = 0;
  let highlighted = null;

  function sized() {
    spacer.style.height = (total * row) + 'px';
    count.textContent = total.toLocaleString('en') + ' lines';
  }

  function load(c) {
    if (chunks.has(c)) return;
    const from = c * CHUNK;
    const p = fetch(`/scheduler/job/${job}/log_lines?start=${from}&end=${from + CHUNK}`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
      .then((data) => {
        // A chunk that is not full yet (the tail of a running job) is
        // fetched again when more lines arrive.
        chunks.set(c, data.lines);
        if (chunks.size > KEEP_CHUNKS) {
          const first = Math.floor(box.scrollTop / row / CHUNK);
          for (const k of chunks.keys()) if (Math.abs(k - first) > KEEP_CHUNKS / 2) chunks.delete(k);
        }
        draw();
      })
      .catch(() => chunks.delete(c));
    chunks.set(c, p);
  }

  function line(n) {
    const c = chunks.get(Math.floor(n / CHUNK));
    return Array.isArray(c) ? c[n % CHUNK] : undefined;
  }

  function text(l) {
    if (!l) return '';
    const m = l.msg;
    if (typeof m === 'string') return m;
    if (m && typeof m === 'object' && l.lvl === 'results') {
      const parts = [m.definition, m.case, m.result].filter((x) => x !== undefined).join(' ');
      return m.measurement !== undefined ? `${parts} ${m.measurement}${m.units ? ' ' + m.units : ''}` : parts;
    }
    return JSON.stringify(m);
  }

  function draw() {
    const first = Math.max(0, Math.floor(box.scrollTop / row) - OVERSCAN);
    const last = Math.min(total, Math.ceil((box.scrollTop + box.clientHeight) / row) + OVERSCAN);
    for (let c = Math.floor(first / CHUNK); c * CHUNK < last; c++) {
      const got = chunks.get(c);
      if (!got || (Array.isArray(got) && got.length < CHUNK && c * CHUNK + got.length < total)) {
        if (Array.isArray(got)) chunks.delete(c);
        load(c);
      }
    }
    layer.style.transform = `translateY(${first * row}px)`;
    const n = last - first;
    while (pool.length < n) {
      const div = document.createElement('div');
      const a = document.createElement('a');
      const dt = document.createElement('span');
      dt.className = 'dt';
      const m = document.createElement('span');
      m.className = 'm';
      div.append(a, dt, m);
      pool.push(div);
      layer.append(div);
    }
    for (let i = 0; i < pool.length; i++) {
      const div = pool[i];
      if (i >= n) { div.hidden = true; continue; }
      div.hidden = false;
      const k = first + i;
      const l = line(k);
      div.className = 'ln ' + (l ? l.lvl : 'loading') + (k + 1 === highlighted ? ' here' : '');
      div.id = 'L' + (k + 1);
      const [a, dt, m] = div.children;
      a.textContent = String(k + 1);
      a.href = '#L' + (k + 1);
      dt.textContent = l && l.dt ? String(l.dt).slice(11, 19) : '';
      m.textContent = text(l);
    }
  }

  function goTo(n) {
    if (!(n >= 1 && n <= total)) return;
    highlighted = n;
    follow.checked = false;
    box.scrollTop = Math.max(0, (n - 1) * row - box.clientHeight / 3);
    draw();
  }

  function fromHash() {
    const m = /^#L([0-9]+)$/.exec(location.hash);
    if (m) goTo(parseInt(m[1], 10));
  }

  box.addEventListener('scroll', () => {
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - row;
    if (atEnd && unseen) { unseen = 0; pill.hidden = true; }
    requestAnimationFrame(draw);
  }, { passive: true });
  window.addEventListener('hashchange', fromHash);
  window.addEventListener('resize', draw);
  pill.addEventListener('click', () => { follow.checked = true; box.scrollTop = box.scrollHeight; });
  follow.addEventListener('change', () => { if (follow.checked) box.scrollTop = box.scrollHeight; });

  // A running job: new lines as they are committed (log_lines' total),
  // checked every second until the job ends.
  const finished = (s) => !['Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling'].includes(s);
  async function tail() {
    while (!finished(state)) {
      await new Promise((r) => setTimeout(r, 1000));
      try {
        const r = await fetch(`/scheduler/job/${job}/log_lines?start=${total}&end=${total + CHUNK}`, { credentials: 'same-origin' });
        if (!r.ok) continue;
        const data = await r.json();
        if (data.total > total) {
          const added = data.total - total;
          const c = Math.floor(total / CHUNK);
          chunks.delete(c);
          total = data.total;
          sized();
          if (follow.checked) {
            box.scrollTop = box.scrollHeight;
          } else {
            unseen += added;
            pill.hidden = false;
            pill.textContent = `${unseen.toLocaleString('en')} new lines`;
          }
        }
        if (data.state !== state) {
          state = data.state;
          head.dataset.state = state;
          const badge = head.querySelector('h1 .badge');
          if (badge) { badge.textContent = state; badge.className = 'badge state-' + state.toLowerCase(); }
          if (finished(state)) location.reload();  // the header, results and times of the end
        }
        draw();
      } catch (e) { /* the server is restarting: try again */ }
    }
  }

  sized();
  if (location.hash) fromHash();
  else if (!finished(state)) box.scrollTop = box.scrollHeight;
  draw();
  tail();
}
