/**
 * Export a device's ledger and sealed segments as a device folder (ledger.jsonl, segments/, head.json): the
 * form the receiver stores and `recgw verify` reads. Segment files are hard-linked when possible (they are
 * immutable once sealed), copied otherwise.
 */
import { copyFile, link, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../state/db.js';
import type { Ledger } from './ledger.js';
import type { Signer } from './signer.js';
import { HEAD_FILE, LEDGER_FILE, SEGMENTS_DIR, encodeHead, makeHead } from './head.js';
import { sealedFileName } from './sealer.js';
import { writeFileAtomic } from '../util/fsx.js';
import { isErrno } from '../util/errors.js';

export interface ExportResult {
  entries: number;
  segments: number;
  dir: string;
}

export async function exportDevice(o: { db: Db; ledger: Ledger; signer: Signer; deviceId: string; outDir: string }): Promise<ExportResult> {
  await mkdir(join(o.outDir, SEGMENTS_DIR), { recursive: true });
  const fh = await open(join(o.outDir, LEDGER_FILE), 'w');
  let entries = 0;
  let last: { seq: number; line: string } | undefined;
  try {
    let buf = '';
    for (const row of o.ledger.lines(0)) {
      buf += row.line + '\n';
      entries++;
      last = row;
      if (buf.length > 1 << 20) {
        await fh.write(buf);
        buf = '';
      }
    }
    await fh.write(buf);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const rows = o.db.prepare(`SELECT name, file FROM segments WHERE local_state = 'present' ORDER BY ledger_seq`).all() as {
    name: string;
    file: string;
  }[];
  for (const r of rows) {
    const dest = join(o.outDir, SEGMENTS_DIR, sealedFileName(r.name));
    try {
      await link(r.file, dest);
    } catch (err) {
      if (isErrno(err, 'EEXIST')) continue;
      if (isErrno(err, 'EXDEV') || isErrno(err, 'EPERM')) await copyFile(r.file, dest);
      else throw err;
    }
  }
  if (last) {
    const head = o.ledger.entry(last.seq)!;
    const h = makeHead({ device: o.deviceId, seq: head.seq, hash: head.hash, time: new Date().toISOString(), signer: 'device' }, o.signer);
    await writeFileAtomic(join(o.outDir, HEAD_FILE), encodeHead(h));
  }
  return { entries, segments: rows.length, dir: o.outDir };
}
