// The job log viewer (docs/adr/0011-web-ui.md, points 9-11): only the rows
// on screen are in the DOM; lines come from /scheduler/job/<id>/log_lines
// in chunks by row, so line 900,000 of a 100 MB log costs what line 1 does.
// Level filters and search run on the server (log_lines?levels=,
// log_search). Anchors #L<n> (1-based) scroll to a line; n / N step through
// search matches. While the job runs new lines are appended: "follow" keeps
// the end in view, and when it is off a pill counts the lines that arrived.

const CHUNK = 500;
const KEEP_CHUNKS = 40;
const OVERSCAN = 20;
const ALL_LEVELS = ['debug', 'info', 'warning', 'error', 'input', 'target', 'feedback', 'results'];

const head = document.getElementById('job');
const box = document.getElementById('log');
if (head && box) start();

function start() {
  const job = head.dataset.job;
  const base = `/scheduler/job/${job}`;
  const row = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row')) || 18;
  let total = parseInt(head.dataset.lines, 10) || 0;  // rows: lines at the chosen levels
  let state = head.dataset.state;
  let levels = null;            // null: every level
  let generation = 0;           // bumps when the rows change meaning (a filter)
  let chunks = new Map();       // chunk index -> lines (or 'loading')
  const spacer = document.createElement('div');
  spacer.className = 'spacer';
  const layer = document.createElement('div');
  layer.className = 'rows';
  box.replaceChildren(spacer, layer);
  const pool = [];
  const $ = (id) => document.getElementById(id);
  const follow = $('log-follow');
  const pill = $('log-new');
  let unseen = 0;
  let highlighted = null;        // a line number (0-based) to mark
  const search = { q: '', matches: [], at: -1, next: null, set: new Set() };

  const levelParam = () => (levels ? `&levels=${levels.join(',')}` : '');

  function sized() {
    spacer.style.height = (total * row) + 'px';
    $('log-count').textContent = total.toLocaleString('en') + (levels ? ' lines shown' : ' lines');
  }

  async function fetchJson(url) {
    const r = await fetch(url, { credentials: 'same-origin' });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.detail || String(r.status));
    return data;
  }

  function load(c) {
    if (chunks.has(c)) return;
    chunks.set(c, 'loading');
    const g = generation;
    const from = c * CHUNK;
    fetchJson(`${base}/log_lines?start=${from}&end=${from + CHUNK}${levelParam()}`).then((data) => {
      if (g !== generation) return;
      chunks.set(c, data.lines);
      if (data.total !== total && data.total > total) { total = data.total; sized(); }
      if (chunks.size > KEEP_CHUNKS) {
        const here = Math.floor(box.scrollTop / row / CHUNK);
        for (const k of chunks.keys()) if (Math.abs(k - here) > KEEP_CHUNKS / 2) chunks.delete(k);
      }
      draw();
    }).catch(() => { if (g === generation) chunks.delete(c); });
  }

  function lineAt(k) {
    const c = chunks.get(Math.floor(k / CHUNK));
    return Array.isArray(c) ? c[k % CHUNK] : undefined;
  }

  function text(l) {
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
      // A chunk that was short (the tail of a running job) is fetched again.
      if (Array.isArray(got) && got.length < CHUNK && c * CHUNK + got.length < total) chunks.delete(c);
      load(c);
    }
    layer.style.transform = `translateY(${first * row}px)`;
    const n = Math.max(0, last - first);
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
      const l = lineAt(first + i);
      const [a, dt, m] = div.children;
      if (!l) {
        div.className = 'ln loading';
        div.removeAttribute('id');
        a.textContent = ''; a.removeAttribute('href'); dt.textContent = ''; m.textContent = '';
        continue;
      }
      const num = l.n + 1;
      div.className = 'ln ' + l.lvl + (search.set.has(l.n) ? ' match' : '') + (l.n === highlighted ? ' here' : '');
      div.id = 'L' + num;
      a.textContent = String(num);
      a.href = '#L' + num;
      dt.textContent = l.dt ? String(l.dt).slice(11, 19) : '';
      m.textContent = text(l);
    }
  }

  function reset() {
    generation++;
    chunks = new Map();
  }

  // Shows line `n` (0-based), every level shown so that it is a row.
  async function goTo(n) {
    if (!(n >= 0)) return;
    if (levels) {
      levels = null;
      for (const c of $('log-levels').querySelectorAll('input')) c.checked = true;
      reset();
      const data = await fetchJson(`${base}/log_lines?start=0&end=0`);
      total = data.total;
      sized();
    }
    if (n >= total) return;
    highlighted = n;
    follow.checked = false;
    box.scrollTop = Math.max(0, n * row - box.clientHeight / 3);
    draw();
  }

  function fromHash() {
    const m = /^#L([0-9]+)$/.exec(location.hash);
    if (m) goTo(parseInt(m[1], 10) - 1);
  }

  // Level filters: the rows become the lines at the checked levels.
  $('log-levels').addEventListener('change', async () => {
    const checked = [...$('log-levels').querySelectorAll('input:checked')].map((c) => c.value);
    levels = checked.length === ALL_LEVELS.length ? null : checked.concat(checked.includes('error') ? ['exception'] : []);
    reset();
    const data = await fetchJson(`${base}/log_lines?start=0&end=${CHUNK}${levelParam()}`);
    total = data.total;
    chunks.set(0, data.lines);
    sized();
    box.scrollTop = 0;
    draw();
  });

  // Search: every match comes from the server, 1,000 at a time.
  async function runSearch(q) {
    search.q = q;
    search.matches = []; search.set = new Set(); search.at = -1; search.next = null;
    $('log-matches').textContent = '';
    if (!q) { draw(); return; }
    try {
      const data = await fetchJson(`${base}/log_search?q=${encodeURIComponent(q)}&from=0`);
      search.matches = data.matches; search.next = data.next; search.set = new Set(data.matches);
    } catch (e) {
      $('log-matches').textContent = e.message;
      return;
    }
    step(1);
  }

  async function step(dir) {
    if (!search.matches.length) { $('log-matches').textContent = search.q ? 'no match' : ''; draw(); return; }
    let at = search.at + dir;
    if (at >= search.matches.length && search.next !== null) {
      const data = await fetchJson(`${base}/log_search?q=${encodeURIComponent(search.q)}&from=${search.next}`);
      search.matches = search.matches.concat(data.matches);
      data.matches.forEach((m) => search.set.add(m));
      search.next = data.next;
    }
    at = (at + search.matches.length) % search.matches.length;
    search.at = at;
    $('log-matches').textContent = `${at + 1} / ${search.matches.length}${search.next !== null ? '+' : ''}`;
    await goTo(search.matches[at]);
  }

  $('log-search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('log-search').value;
    if (q !== search.q) runSearch(q); else step(1);
  });
  $('log-next').addEventListener('click', () => step(1));
  $('log-prev').addEventListener('click', () => step(-1));
  $('log-first-fail').addEventListener('click', async () => {
    const q = encodeURIComponent('"result": ?"fail"');
    const data = await fetchJson(`${base}/log_search?levels=results&q=${q}&from=0`);
    if (data.matches.length) goTo(data.matches[0]);
    else $('log-matches').textContent = 'no failed test in the log';
  });
  $('log-first-error').addEventListener('click', async () => {
    const data = await fetchJson(`${base}/log_search?levels=error,exception&from=0`);
    if (data.matches.length) goTo(data.matches[0]);
    else $('log-matches').textContent = 'no error in the log';
  });
  $('log-wrap').addEventListener('change', (e) => { box.classList.toggle('wrap', e.target.checked); draw(); });
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    if (e.key === 'n' || e.key === 'N') { step(e.key === 'n' ? 1 : -1); e.preventDefault(); }
    if (e.key === 'e') { $('log-first-error').click(); e.preventDefault(); }
    if (e.key === 'f' && document.activeElement !== $('log-search')) { $('log-search').focus(); e.preventDefault(); }
  });
  // The error banner's link: the first error line.
  const banner = $('job-error-line');
  if (banner) banner.addEventListener('click', (e) => { e.preventDefault(); $('log-first-error').click(); });

  box.addEventListener('scroll', () => {
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - row;
    if (atEnd && unseen) { unseen = 0; pill.hidden = true; }
    requestAnimationFrame(draw);
  }, { passive: true });
  window.addEventListener('hashchange', fromHash);
  window.addEventListener('resize', draw);
  pill.addEventListener('click', () => { follow.checked = true; box.scrollTop = box.scrollHeight; });
  follow.addEventListener('change', () => { if (follow.checked) box.scrollTop = box.scrollHeight; });

  // A running job: lava-server's log notices (through the page's socket)
  // say when lines were committed; the new ones are fetched by range. A
  // testjob event updates the header; at the end the page reloads for the
  // results and times. Without the socket, a poll every 5 s.
  const finished = (s) => !['Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling'].includes(s);
  let fetching = false;
  let again = false;
  async function refreshTail() {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const data = await fetchJson(`${base}/log_lines?start=${total}&end=${total + CHUNK}${levelParam()}`);
      if (data.total > total) {
        const added = data.total - total;
        chunks.delete(Math.floor(total / CHUNK));
        total = data.total;
        sized();
        if (follow.checked) {
          box.scrollTop = box.scrollHeight;
        } else {
          unseen += added;
          pill.hidden = false;
          pill.textContent = `${unseen.toLocaleString('en')} new lines`;
        }
        draw();
      }
      if (data.state !== state) applyState(data.state);
    } catch (e) {
      /* the server is restarting: the next notice or poll tries again */
    } finally {
      fetching = false;
      if (again) { again = false; refreshTail(); }
    }
  }
  function applyState(next) {
    state = next;
    head.dataset.state = state;
    badge($('job-state'), 'state', state);
    if (finished(state)) refreshPage();
  }
  function setLink(holder, prefix, name) {
    if (!name || holder.textContent === name) return;
    const a = document.createElement('a');
    a.href = prefix + encodeURIComponent(name);
    a.textContent = name;
    holder.replaceChildren(a);
  }
  function badge(holder, cls, text) {
    if (!text || text === 'Unknown') { holder.replaceChildren(); return; }
    const b = document.createElement('span');
    b.className = `badge ${cls}-${text.toLowerCase()}`;
    b.textContent = text;
    holder.replaceChildren(b);
  }
  const seconds = (s) => (s === null || s === undefined ? '—'
    : (s >= 3600 ? `${Math.floor(s / 3600)}h ` : '') + (s >= 60 ? `${Math.floor((s % 3600) / 60)}m ` : '') + `${s % 60}s`);
  // The header, the error banner and the results from the page's own data
  // (?format=json): what a reload would show, without one.
  async function refreshPage() {
    const data = await fetchJson(`${base}?format=json`);
    const j = data.job;
    badge($('job-state'), 'state', j.state);
    badge($('job-health'), 'health', j.health);
    setLink($('job-device'), '/scheduler/device/', j.device);
    setLink($('job-worker'), '/scheduler/worker/', j.worker);
    if (j.state !== 'Submitted') for (const w of document.querySelectorAll('.facts .waiting')) w.remove();
    $('job-start').textContent = j.start_time || '—';
    $('job-end').textContent = j.end_time || '—';
    $('job-duration').textContent = seconds(j.duration);
    if (!data.can_cancel && $('cancel-form')) $('cancel-form').remove();
    if (data.error) {
      $('job-error-type').textContent = data.error.error_type || '';
      $('job-error-msg').textContent = data.error.error_msg || data.error.comment || '';
      $('job-error').hidden = false;
    }
    $('case-count').textContent = String(data.case_count);
    const rows = data.cases.map((c) => {
      const tr = document.createElement('tr');
      tr.className = 'result-' + c.result;
      const cell = (child) => { const td = document.createElement('td'); if (child !== undefined) td.append(child); tr.append(td); return td; };
      cell(c.suite);
      let name = c.name;
      if (c.line !== null) { name = document.createElement('a'); name.href = '#L' + c.line; name.dataset.line = c.line; name.textContent = c.name; }
      cell(name).className = 'grow';
      const b = document.createElement('span');
      b.className = 'badge result-' + c.result;
      b.textContent = c.result;
      cell(b);
      cell(c.measurement !== null ? `${c.measurement} ${c.units}` : '').className = 'num';
      return tr;
    });
    $('results-body').replaceChildren(...rows);
    await loadPipeline();
    head.dataset.updated = 'yes';
  }
  if (!finished(state)) {
    document.dispatchEvent(new CustomEvent('lava:subscribe', { detail: { job: Number(job) } }));
    document.addEventListener('lava:event', (e) => {
      const { kind, data } = e.detail;
      if (Number(data.job) !== Number(job)) return;
      if (kind === 'log') refreshTail();
      if (kind === 'testjob') {
        setLink($('job-device'), '/scheduler/device/', data.device);
        setLink($('job-worker'), '/scheduler/worker/', data.worker);
        if (data.state !== 'Submitted') for (const w of document.querySelectorAll('.facts .waiting')) w.remove();
        if (data.start_time) $('job-start').textContent = String(data.start_time).slice(0, 19).replace('T', ' ');
        if (finished(data.state)) refreshTail().then(() => applyState(data.state));
        else if (data.state !== state) applyState(data.state);
      }
    });
    document.addEventListener('lava:live', (e) => { if (e.detail.up) refreshTail(); });  // catch up after a reconnect
    (async () => {
      while (!finished(state)) {
        await new Promise((r) => setTimeout(r, 5000));
        if (document.body.dataset.live !== 'up') refreshTail();
      }
    })();
  }

  // The pipeline tree: lava-run's "start:"/"end:" lines, each action with
  // its duration against its timeout, a click to its line; while the job
  // runs, the current action with its elapsed time.
  const tree = $('pipeline');
  const actions = new Map();  // level -> {li, sub, took, start, end}
  let pipeNext = 0;
  let pipeLoading = false;
  const hms = (t) => { const [h, m, s] = String(t).split(':').map(Number); return h * 3600 + m * 60 + s; };
  function applyEvent(e) {
    if (e.kind === 'start') {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `#L${e.n + 1}`;
      a.textContent = `${e.level} ${e.name}`;
      const took = document.createElement('span');
      took.className = 'took';
      took.textContent = `… / ${seconds(hms(e.timeout))}`;
      li.append(a, ' ', took);
      const dot = e.level.lastIndexOf('.');
      const parent = dot > 0 ? actions.get(e.level.slice(0, dot)) : null;
      let list = tree;
      if (parent) {
        if (!parent.sub) { parent.sub = document.createElement('ol'); parent.li.append(parent.sub); }
        list = parent.sub;
      }
      list.append(li);
      actions.set(e.level, { li, sub: null, took, start: e, end: null });
    } else {
      const a = actions.get(e.level);
      if (!a) return;
      a.end = e;
      a.li.classList.add('done');
      a.took.textContent = `${seconds(hms(e.duration))} / ${seconds(hms(a.start.timeout))}`;
      if (hms(e.duration) * 2 > hms(a.start.timeout)) a.li.classList.add('slow');
    }
  }
  function markCurrent() {
    let current = null;
    for (const a of actions.values()) {
      a.li.classList.remove('current');
      if (!a.end) current = a;
    }
    const label = $('pipeline-current');
    if (!current || finished(state)) { label.textContent = ''; return; }
    current.li.classList.add('current');
    const since = Date.parse(current.start.dt + 'Z');
    const elapsed = Number.isFinite(since) ? Math.max(0, Math.round((Date.now() - since) / 1000)) : null;
    current.took.textContent = `${elapsed === null ? '…' : seconds(elapsed)} / ${seconds(hms(current.start.timeout))}`;
    label.textContent = `now: ${current.start.name}${elapsed === null ? '' : ', ' + seconds(elapsed)}`;
  }
  async function loadPipeline() {
    if (pipeLoading) return;
    pipeLoading = true;
    try {
      const data = await fetchJson(`${base}/pipeline?from=${pipeNext}`);
      if (pipeNext === 0) tree.replaceChildren();
      pipeNext = data.next;
      data.events.forEach(applyEvent);
      if (!tree.children.length) {
        const li = document.createElement('li');
        li.className = 'muted';
        li.textContent = 'no actions logged';
        tree.append(li);
      }
      markCurrent();
    } catch (e) {
      /* try again with the next notice */
    } finally {
      pipeLoading = false;
    }
  }
  tree.addEventListener('click', (e) => {
    const a = e.target.closest('a[href^="#L"]');
    if (a) { e.preventDefault(); history.replaceState(null, '', a.getAttribute('href')); fromHash(); }
  });
  loadPipeline();
  if (!finished(state)) {
    let pipeTimer = null;
    document.addEventListener('lava:event', (e) => {
      if (e.detail.kind !== 'log' || Number(e.detail.data.job) !== Number(job) || pipeTimer) return;
      pipeTimer = setTimeout(() => { pipeTimer = null; loadPipeline(); }, 500);
    });
    const ticker = setInterval(() => { if (finished(state)) { clearInterval(ticker); markCurrent(); } else markCurrent(); }, 1000);
  }

  sized();
  if (location.hash) fromHash();
  else if (!finished(state)) box.scrollTop = box.scrollHeight;
  draw();
}
