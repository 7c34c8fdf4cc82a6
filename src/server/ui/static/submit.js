// The job editor: line numbers, a file loaded into it, and validation while
// typing by the server's own validator (POST /scheduler/jobsubmit/validate):
// each issue at its line with its field path; Submit is enabled only when
// the definition is valid. Without JavaScript the form still submits and the
// server answers with LAVA's error.

const $ = (id) => document.getElementById(id);
const text = $('definition');
const gutter = $('gutter');
const submit = $('submit');
const validity = $('validity');
const issues = $('issues');
const csrf = document.body.dataset.csrf;
let bad = new Set();
let seq = 0;
let timer = null;

function numbers() {
  const n = text.value.split('\n').length;
  const out = [];
  for (let i = 1; i <= n; i++) out.push(bad.has(i) ? `${i} ●` : String(i));
  gutter.textContent = out.join('\n');
  gutter.scrollTop = text.scrollTop;
}

function goToLine(line, column) {
  const lines = text.value.split('\n');
  let at = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
  at += Math.max(0, (column || 1) - 1);
  text.focus();
  text.setSelectionRange(at, at);
  const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 16;
  text.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

async function validate() {
  const mine = ++seq;
  validity.textContent = 'checking…';
  validity.className = 'validity';
  let data;
  try {
    const r = await fetch('/scheduler/jobsubmit/validate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRFToken': csrf },
      body: new URLSearchParams({ definition: text.value }),
      credentials: 'same-origin',
    });
    data = await r.json();
  } catch (e) {
    if (mine === seq) { validity.textContent = 'cannot check now'; submit.disabled = false; }
    return;
  }
  if (mine !== seq) return;  // the text changed meanwhile
  bad = new Set(data.issues.map((i) => i.line));
  issues.replaceChildren(...data.issues.map((i) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '#';
    a.textContent = `line ${i.line}`;
    a.addEventListener('click', (e) => { e.preventDefault(); goToLine(i.line, i.column); });
    li.append(a, ': ' + (i.path ? i.path + ': ' : '') + i.message);
    return li;
  }));
  validity.textContent = data.valid ? 'Valid definition' : `Invalid definition: ${data.issues.length} problem${data.issues.length > 1 ? 's' : ''}`;
  validity.className = 'validity ' + (data.valid ? 'ok' : 'bad');
  submit.disabled = !data.valid;
  numbers();
}

function changed() {
  numbers();
  submit.disabled = true;
  clearTimeout(timer);
  timer = setTimeout(validate, 250);
}

text.addEventListener('input', changed);
text.addEventListener('scroll', () => { gutter.scrollTop = text.scrollTop; });
$('definition-file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  text.value = await file.text();
  changed();
});
// Tab indents with spaces (YAML has no tabs).
text.addEventListener('keydown', (e) => {
  if (e.key !== 'Tab' || e.shiftKey || e.ctrlKey || e.altKey || e.metaKey) return;
  e.preventDefault();
  text.setRangeText('  ', text.selectionStart, text.selectionEnd, 'end');
  changed();
});

numbers();
if (text.value.trim()) validate(); else submit.disabled = true;
