#!/usr/bin/env node
// Upload checks for the whole-host test, run ON an app host against its GlusterFS mount: every
// INTERVAL_MS, one after the other, read the upload written before the fault (its sha256 must
// match) and write a new upload (write, fsync, close) named after this host and a counter, for
// DURATION_MS. Operations are sequential: a stalled one shows as one long operation. Prints one JSON
// line per operation: {op: 'read'|'write', s, e, ok, err?, file?}, then {done: true}.
// Usage: node uploads.mjs DIR BEFORE_FILE SHA256 TAG INTERVAL_MS DURATION_MS
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

const [dir, before, sha, tag, intervalText = '200', durationText = '10000'] = process.argv.slice(2);
const end = Date.now() + Number(durationText);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let n = 0;
while (Date.now() < end) {
  const t0 = Date.now();
  let s = Date.now();
  try {
    const data = await fs.readFile(path.join(dir, before));
    const got = createHash('sha256').update(data).digest('hex');
    out({ op: 'read', s, e: Date.now(), ok: got === sha, ...(got === sha ? {} : { err: 'checksum' }) });
  } catch (e) {
    out({ op: 'read', s, e: Date.now(), ok: false, err: e.code ?? String(e) });
  }
  s = Date.now();
  const file = `${tag}-${n++}.bin`;
  try {
    const h = await fs.open(path.join(dir, file), 'wx', 0o640);
    try {
      await h.writeFile(Buffer.from(`${file}\n`.repeat(512)));
      await h.sync();
    } finally {
      await h.close();
    }
    out({ op: 'write', s, e: Date.now(), ok: true, file });
  } catch (e) {
    out({ op: 'write', s, e: Date.now(), ok: false, err: e.code ?? String(e), file });
  }
  await sleep(Math.max(0, t0 + Number(intervalText) - Date.now()));
}
out({ done: true });
