// A big job log written as lava-server stores it (output.yaml, output.idx,
// the committed extent in test_jobs), for a job that never ran: the browser
// scenarios and bench/ui open it. Line n (0-based) says "line <n+1>"; one
// line in 1,000 is at level info, the rest target; `needle` (a line number)
// carries "the needle-in-the-log is here".

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export function writeBigLog({ jobOutput, pgEnv, id, submitTime, lines, needle = 987654 }) {
  const dir = path.join(jobOutput, submitTime.slice(0, 4), submitTime.slice(5, 7), submitTime.slice(8, 10), String(id));
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.openSync(path.join(dir, 'output.yaml'), 'w');
  const idx = fs.openSync(path.join(dir, 'output.idx'), 'w');
  const pad = 'x'.repeat(40);
  let bytes = 0;
  const block = 10000;
  for (let start = 0; start < lines; start += block) {
    const texts = [];
    const count = Math.min(block, lines - start);
    const offsets = Buffer.alloc(8 * count);
    for (let n = start; n < start + count; n++) {
      const msg = n === needle ? 'the needle-in-the-log is here' : `line ${String(n + 1).padStart(7, '0')} ${pad}`;
      const lvl = n % 1000 === 0 ? 'info' : 'target';
      const text = `- {"dt": "2026-12-05T10:00:00.${String(n % 1000000).padStart(6, '0')}", "lvl": "${lvl}", "msg": "${msg}"}\n`;
      offsets.writeBigUInt64LE(BigInt(bytes), 8 * (n - start));
      bytes += Buffer.byteLength(text);
      texts.push(text);
    }
    fs.writeSync(log, texts.join(''));
    fs.writeSync(idx, offsets);
  }
  fs.closeSync(log);
  fs.closeSync(idx);
  const sql = `UPDATE test_jobs SET log_lines = ${lines}, log_bytes = ${bytes} WHERE id = ${id}`;
  const r = spawnSync('psql', ['-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
                      { env: { ...process.env, ...pgEnv }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return bytes;
}
