// lava-cpp web UI: what every page shares. Keyboard: j/k move through a
// list's rows, Enter (or o) opens the selected one, / focuses the search
// box, g then a job id then Enter opens that job. Rows with data-href open
// on click. Data always reaches the page as text (textContent), never HTML.

const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

function rows() {
  return [...document.querySelectorAll('table.dense tbody tr[data-href]')];
}

let selected = -1;
function select(i) {
  const all = rows();
  if (!all.length) return;
  selected = Math.max(0, Math.min(all.length - 1, i));
  all.forEach((r, n) => r.classList.toggle('selected', n === selected));
  all[selected].scrollIntoView({ block: 'nearest' });
}

let goto = null;  // the job id typed after 'g', or null
function gotoHint(text) {
  let hint = document.getElementById('goto-hint');
  if (!hint) {
    hint = document.createElement('div');
    hint.id = 'goto-hint';
    hint.className = 'pill';
    hint.style.position = 'fixed';
    hint.style.right = '12px';
    hint.style.bottom = '12px';
    document.body.append(hint);
  }
  hint.hidden = text === null;
  hint.textContent = text === null ? '' : 'go to job ' + text;
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
  if (goto !== null) {
    if (/^[0-9.]$/.test(e.key)) { goto += e.key; gotoHint(goto); e.preventDefault(); return; }
    if (e.key === 'Enter' && goto) { location.href = '/scheduler/job/' + encodeURIComponent(goto); }
    goto = null; gotoHint(null); e.preventDefault(); return;
  }
  switch (e.key) {
    case '/': { const box = document.getElementById('log-search') || document.getElementById('goto'); if (box) { box.focus(); box.select(); e.preventDefault(); } break; }
    case 'g': goto = ''; gotoHint(''); e.preventDefault(); break;
    case 'j': select(selected + 1); e.preventDefault(); break;
    case 'k': select(selected - 1); e.preventDefault(); break;
    case 'Enter': case 'o': {
      const r = rows()[selected];
      if (r) { location.href = r.dataset.href; e.preventDefault(); }
      break;
    }
  }
});

document.addEventListener('click', (e) => {
  if (e.target.closest('a, button, input, select, label, form')) return;
  const row = e.target.closest('tr[data-href]');
  if (row && !window.getSelection().toString()) location.href = row.dataset.href;
});

// The search box: a job id (or N.M) opens the job; anything else searches descriptions.
const box = document.getElementById('goto');
if (box) {
  box.form.addEventListener('submit', (e) => {
    const v = box.value.trim();
    if (/^[0-9]+(\.[0-9]+)?$/.test(v)) { e.preventDefault(); location.href = '/scheduler/job/' + v.split('.')[0]; }
  });
}

// ---- Live: one WebSocket per page, lava-publisher's /ws/ through
// lava-server (same origin; the session cookie says who we are, so private
// jobs stay private). Every event is dispatched on `document` as
// `lava:event` {kind, data}; a page asks for a job's log notices with
// `lava:subscribe` {job}. `document.body.dataset.live` is "up" while the
// socket is open (pages fall back to polling otherwise).
const subscriptions = new Set();
let socket = null;
let backoff = 500;

function send(obj) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(obj));
}

function connect() {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/';
  socket = new WebSocket(url);
  socket.addEventListener('open', () => {
    backoff = 500;
    document.body.dataset.live = 'up';
    for (const job of subscriptions) send({ subscribe: 'log', job });
    document.dispatchEvent(new CustomEvent('lava:live', { detail: { up: true } }));
  });
  socket.addEventListener('message', (m) => {
    let frames;
    try { frames = JSON.parse(m.data); } catch { return; }
    if (!Array.isArray(frames) || frames.length !== 5) return;  // {"error": ...} and the like
    const topic = String(frames[0]);
    let data;
    try { data = JSON.parse(frames[4]); } catch { return; }
    const kind = topic.slice(topic.lastIndexOf('.') + 1);
    document.dispatchEvent(new CustomEvent('lava:event', { detail: { kind, data, received: performance.now() } }));
  });
  socket.addEventListener('close', () => {
    document.body.dataset.live = 'down';
    document.dispatchEvent(new CustomEvent('lava:live', { detail: { up: false } }));
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  });
}

document.addEventListener('lava:subscribe', (e) => {
  subscriptions.add(e.detail.job);
  send({ subscribe: 'log', job: e.detail.job });
});

if ('WebSocket' in window) connect();

// Job lists: a row changes in place when its job does; jobs that are new
// to the list are counted in a pill that reloads the list.
const table = document.querySelector('table[data-live="jobs"]');
if (table) {
  const tab = table.dataset.tab;
  let fresh = 0;
  const setBadge = (cell, cls, text) => {
    if (!cell) return;
    let b = cell.querySelector('.badge');
    if (!text) { if (b) b.remove(); return; }
    if (!b) { b = document.createElement('span'); cell.append(b); }
    b.className = 'badge ' + cls + '-' + text.toLowerCase();
    b.textContent = text;
  };
  document.addEventListener('lava:event', (e) => {
    if (e.detail.kind !== 'testjob') return;
    const j = e.detail.data;
    const row = table.querySelector(`tr[data-job="${Number(j.job)}"]`);
    if (row) {
      const cell = (name) => row.querySelector(`[data-cell="${name}"]`);
      setBadge(cell('state'), 'state', j.state);
      setBadge(cell('health'), 'health', j.health === 'Unknown' ? '' : j.health);
      if (j.device && cell('device') && !cell('device').textContent.trim()) {
        const a = document.createElement('a');
        a.href = '/scheduler/device/' + encodeURIComponent(j.device);
        a.textContent = j.device;
        cell('device').replaceChildren(a);
      }
      if (j.end_time && cell('ended')) cell('ended').textContent = String(j.end_time).slice(0, 19).replace('T', ' ');
      row.classList.add('changed');
      if (tab === 'queue' && j.state !== 'Submitted') row.remove();
      if (tab === 'active' && j.state === 'Finished') row.classList.add('gone');
      return;
    }
    const belongs = tab === 'all' || (tab === 'queue' && j.state === 'Submitted') ||
      (tab === 'active' && j.state !== 'Submitted' && j.state !== 'Finished') ||
      (tab === 'mine' && j.submitter === document.body.dataset.user) || (tab === 'healthcheck' && j.health_check);
    if (!belongs || table.dataset.first !== 'yes') return;
    fresh += 1;
    let pill = document.getElementById('jobs-new');
    if (!pill) {
      pill = document.createElement('a');
      pill.id = 'jobs-new';
      pill.className = 'pill';
      pill.href = location.pathname + location.search;
      document.querySelector('.tabs').append(pill);
    }
    pill.textContent = `${fresh} new or changed job${fresh > 1 ? 's' : ''} — show`;
  });
}

// Lab pages (dashboard, devices, device types, workers): a device, worker or
// job event refreshes the numbers and badges in place from the page's own
// data (?format=json), at most twice a second.
const liveTables = document.querySelectorAll('table[data-live="types"], table[data-live="devices"], table[data-live="workers"]');
const dashboard = document.querySelector('[data-live="dashboard"]');
if (liveTables.length || dashboard) {
  const badge = (cls, text) => {
    const b = document.createElement('span');
    b.className = `badge ${cls}`;
    b.textContent = text;
    return b;
  };
  const link = (href, text) => {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    return a;
  };
  let pending = null;
  async function refresh() {
    pending = null;
    const url = location.pathname + location.search + (location.search ? '&' : '?') + 'format=json';
    let data;
    try {
      const r = await fetch(url, { credentials: 'same-origin' });
      if (!r.ok) return;
      data = await r.json();
    } catch { return; }
    for (const t of data.types || []) {
      const row = document.querySelector(`table[data-live="types"] tr[data-type="${CSS.escape(t.name)}"]`);
      if (!row) continue;
      for (const cell of row.querySelectorAll('[data-count]')) {
        const target = cell.querySelector('a') || cell;
        target.textContent = String(t[cell.dataset.count]);
      }
    }
    for (const d of data.devices || []) {
      const row = document.querySelector(`table[data-live="devices"] tr[data-device="${CSS.escape(d.hostname)}"]`);
      if (!row) continue;
      row.querySelector('[data-cell="status"]').replaceChildren(badge(`status-${d.status}`, d.status));
      row.querySelector('[data-cell="health"]').replaceChildren(badge(`health-${d.health.toLowerCase()}`, d.health));
      row.querySelector('[data-cell="job"]').replaceChildren(
        ...(d.current_job !== null ? [link(`/scheduler/job/${d.current_job}`, String(d.current_job))] : []));
    }
    for (const w of data.workers || []) {
      const row = document.querySelector(`table[data-live="workers"] tr[data-worker="${CSS.escape(w.hostname)}"]`);
      if (!row) continue;
      row.querySelector('[data-cell="state"]').replaceChildren(badge(w.state === 'Online' ? 'status-idle' : 'status-offline', w.state));
      row.querySelector('[data-cell="health"]').replaceChildren(badge(`health-${w.health.toLowerCase()}`, w.health));
    }
    if (dashboard && data.running) {
      const body = dashboard.querySelector('.running tbody');
      const count = dashboard.querySelector('.running .count');
      if (count) count.textContent = String(data.running.length);
      if (body) {
        const rows = data.running.map((j) => {
          const tr = document.createElement('tr');
          tr.dataset.job = j.id;
          tr.dataset.href = `/scheduler/job/${j.id}`;
          const td = (child, cls) => { const c = document.createElement('td'); if (cls) c.className = cls; if (child !== undefined && child !== null) c.append(child); tr.append(c); };
          td(link(`/scheduler/job/${j.id}`, j.display_id), 'num');
          td(badge(`state-${j.state.toLowerCase()}`, j.state));
          td(j.device ? link(`/scheduler/device/${encodeURIComponent(j.device)}`, j.device) : null);
          td(j.action ? link(`/scheduler/job/${j.id}#L${j.action.line + 1}`, `${j.action.level} ${j.action.name}`) : null);
          td(j.description, 'grow');
          td(j.submitter);
          td(j.start_time || '', 'time');
          return tr;
        });
        if (!rows.length) {
          const tr = document.createElement('tr');
          tr.className = 'empty';
          const c = document.createElement('td');
          c.colSpan = 7;
          c.textContent = 'Nothing is running.';
          tr.append(c);
          rows.push(tr);
        }
        body.replaceChildren(...rows);
      }
    }
    document.body.dataset.refreshed = String(Date.now());
  }
  document.addEventListener('lava:event', (e) => {
    if (!['device', 'worker', 'testjob'].includes(e.detail.kind) || pending) return;
    pending = setTimeout(refresh, 500);
  });
  // The running jobs' current actions move without job events.
  if (dashboard) setInterval(() => { if (!pending && document.querySelector('.running tr[data-job]')) refresh(); }, 5000);
}

// Bulk actions: "select all" and the buttons enabled only with a selection.
const bulkForm = document.getElementById('bulk');
if (bulkForm) {
  const picks = () => [...bulkForm.querySelectorAll('input[name="job"]')];
  const sync = () => {
    const any = picks().some((p) => p.checked);
    for (const b of bulkForm.querySelectorAll('.bulk-bar button')) b.disabled = !any;
  };
  document.getElementById('pick-all')?.addEventListener('change', (e) => {
    for (const p of picks()) p.checked = e.target.checked;
    sync();
  });
  bulkForm.addEventListener('change', sync);
  sync();
}
