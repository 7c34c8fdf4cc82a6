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
