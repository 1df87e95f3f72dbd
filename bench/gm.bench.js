// The gm suite (issue 19) against openssl and against the intl suite, over the same files in the same run:
//   gm-sm3                  SM3 of the files (read and hashed in 1 MiB pieces, node:crypto), baseline
//                           `openssl dgst -sm3` over the same files (one process, wall time).
//   gm-seal                 SM4-CTR + HMAC-SM3 sealing of the files (read, encrypt, MAC; the output is not written),
//                           baseline `openssl enc -sm4-ctr` of each file to /dev/null (a process per file): openssl
//                           encrypts only, the seal also MACs, so the ratio is below what encryption alone reaches.
//   gm-seal-vs-intl         the same sealing, baseline the intl suite's AES-256-GCM over the same files.
//   gm-sm2-sign, -verify    SM2 signatures per second (sm-crypto-v2, Z from the default ID, 200-byte messages),
//                           baseline RSA-2048 (node:crypto, the intl suite) in the same run.
//   gm-sm2-sign-vs-openssl, gm-sm2-verify-vs-openssl   baseline `openssl speed sm2` (one process, libcrypto).
//   gm-sm2-wrap             SM2 encryption of a 48-byte data key per second, baseline RSA-OAEP-256 of a 32-byte key.
//   gm-sealfile             recgw's sealFile under gm (SM3 of the plaintext, SM4-CTR + HMAC-SM3, SM3 of the stored
//                           file, written and fsynced, the key wrapped with SM2; the workers as for a backlog),
//                           baseline the same work by the openssl command line per file: `dgst -sm3` of the file,
//                           `enc -sm4-ctr` into the sealed file, `dgst -sm3 -mac HMAC` and `dgst -sm3` of it, `sync`.
//   gm-sealfile-vs-intl     the same, baseline sealFile under intl (SHA-256, AES-256-GCM, RSA-OAEP-256).
// Files are random data in a temp folder, in the page cache when timing starts. Each contender runs REPS times,
// alternating; the best run of each is reported (other work on this shared machine only ever slows a run down).
import { createCipheriv, createPrivateKey, createPublicKey, randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { createSm3 } from '../dist/crypto/gm/sm3.js';
import { Sm4CtrHmacSealer } from '../dist/crypto/gm/sm4-ctr-hmac.js';
import { gmSuite } from '../dist/crypto/gm/gm-suite.js';
import { intlSuite } from '../dist/crypto/intl-suite.js';
import { sealFile } from '../dist/evidence/seal.js';
import { MB, median, progress, report, run, tempDir, timeIt } from './lib.js';

const MiB = 1 << 20;
const REPS = Number(process.env.RECGW_BENCH_REPS ?? 7);
const FILES = 4;
const FILE_BYTES = 32 * MiB;
const SIGN_SECONDS = 1;

export default async function gmBench() {
  const tmp = tempDir();
  try {
    const files = [];
    const buf = Buffer.allocUnsafe(FILE_BYTES);
    for (let i = 0; i < FILES; i++) {
      const f = join(tmp.dir, `seg-${i}.ts`);
      writeFileSync(f, randomFillSync(buf));
      files.push(f);
    }
    await throughput(files);
    await sealFiles(files, tmp.dir);
    signatures();
  } finally {
    tmp.remove();
  }
}

/** Read each file in 1 MiB pieces and hand each piece to `each` (the same reading for every contender). */
function readAll(files, each) {
  const piece = Buffer.allocUnsafe(MiB);
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      for (let n; (n = readSync(fd, piece, 0, MiB, null)) > 0; ) each(piece.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
}

async function throughput(files) {
  const total = FILES * FILE_BYTES;
  const kenc = randomBytes(16).toString('hex');
  const iv = randomBytes(16).toString('hex');
  const contenders = {
    'openssl-sm3': () => run('openssl', ['dgst', '-sm3', ...files]),
    sm3: async () => {
      for (const f of files) {
        const h = createSm3();
        readAll([f], (p) => h.update(p));
        h.digest();
      }
    },
    'openssl-sm4-ctr': async () => {
      for (const f of files) await run('openssl', ['enc', '-sm4-ctr', '-K', kenc, '-iv', iv, '-in', f, '-out', '/dev/null']);
    },
    'gm-seal': async () => {
      for (const f of files) {
        const s = new Sm4CtrHmacSealer(gmSuite.newDataKey());
        readAll([f], (p) => s.update(p));
        s.final();
      }
    },
    'intl-seal': async () => {
      for (const f of files) {
        const c = createCipheriv('aes-256-gcm', intlSuite.newDataKey(), randomBytes(12));
        readAll([f], (p) => c.update(p));
        c.final();
        c.getAuthTag();
      }
    },
  };
  const rates = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  readAll(files, () => undefined); // into the page cache
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, fn] of Object.entries(contenders)) rates[name].push(total / MB / (await timeIt(fn)));
    progress(`throughput rep ${rep + 1}/${REPS}: ${Object.entries(rates).map(([k, v]) => `${k} ${v.at(-1).toFixed(0)}`).join(', ')} MB/s`);
  }
  const best = (k) => Math.max(...rates[k]);
  progress(`medians MB/s: ${Object.entries(rates).map(([k, v]) => `${k} ${median(v).toFixed(0)}`).join(', ')}`);
  report('gm-sm3', best('sm3'), 'MB/s', best('openssl-sm3'));
  report('gm-seal', best('gm-seal'), 'MB/s', best('openssl-sm4-ctr'));
  report('gm-seal-vs-intl', best('gm-seal'), 'MB/s', best('intl-seal'));
}

/** Whole-file sealing with its writes, as the gateway does it, under both suites and by openssl. */
async function sealFiles(files, dir) {
  const total = FILES * FILE_BYTES;
  const gmPub = createPublicKey(gmSuite.generateKeyPair().publicKeyPem);
  const rsaPub = createPublicKey(intlSuite.generateKeyPair().publicKeyPem);
  const k = gmSuite.newDataKey().toString('hex');
  const iv = randomBytes(16).toString('hex');
  const out = (i) => join(dir, `sealed-${i}.seg`);
  const contenders = {
    'gm-sealfile': async () => {
      for (const [i, f] of files.entries()) await sealFile(f, out(i), gmPub);
    },
    'intl-sealfile': async () => {
      for (const [i, f] of files.entries()) await sealFile(f, out(i), rsaPub);
    },
    'openssl-sealfile': async () => {
      for (const [i, f] of files.entries()) {
        const o = out(i);
        await run('sh', ['-c', `openssl dgst -sm3 "$1" > /dev/null && openssl enc -sm4-ctr -K ${k.slice(0, 32)} -iv ${iv} -in "$1" -out "$2" &&
          openssl dgst -sm3 -mac HMAC -macopt hexkey:${k.slice(32)} "$2" > /dev/null && openssl dgst -sm3 "$2" > /dev/null && sync "$2"`, 'sh', f, o]);
      }
    },
  };
  const rates = Object.fromEntries(Object.keys(contenders).map((n) => [n, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, fn] of Object.entries(contenders)) rates[name].push(total / MB / (await timeIt(fn)));
    progress(`sealFile rep ${rep + 1}/${REPS}: ${Object.entries(rates).map(([n, v]) => `${n} ${v.at(-1).toFixed(0)}`).join(', ')} MB/s`);
  }
  const best = (n) => Math.max(...rates[n]);
  report('gm-sealfile', best('gm-sealfile'), 'MB/s', best('openssl-sealfile'));
  report('gm-sealfile-vs-intl', best('gm-sealfile'), 'MB/s', best('intl-sealfile'));
}

/** Operations per second of fn over about SIGN_SECONDS, after a warm-up. */
function perSecond(fn) {
  for (let i = 0; i < 20; i++) fn(i);
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < SIGN_SECONDS) {
    fn(n++);
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  return n / elapsed;
}

function opensslSpeedSm2() {
  const r = spawnSync('openssl', ['speed', '-seconds', String(SIGN_SECONDS), 'sm2'], { encoding: 'utf8' });
  const m = /SM2 \(CurveSM2\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout ?? '');
  return m ? { sign: Number(m[1]), verify: Number(m[2]) } : null;
}

function signatures() {
  const gm = gmSuite.generateKeyPair();
  const gmPriv = createPrivateKey(gm.privateKeyPem);
  const gmPub = createPublicKey(gm.publicKeyPem);
  const intl = intlSuite.generateKeyPair();
  const rsaPriv = createPrivateKey(intl.privateKeyPem);
  const rsaPub = createPublicKey(intl.publicKeyPem);
  const msgs = Array.from({ length: 64 }, () => randomBytes(200));
  const gmSigs = msgs.map((m) => gmSuite.sign(m, gmPriv));
  const rsaSigs = msgs.map((m) => intlSuite.sign(m, rsaPriv));
  const gmKey = gmSuite.newDataKey();
  const intlKey = intlSuite.newDataKey();
  const runs = { gmSign: [], gmVerify: [], rsaSign: [], rsaVerify: [], gmWrap: [], rsaWrap: [], osslSign: [], osslVerify: [] };
  for (let rep = 0; rep < REPS; rep++) {
    runs.gmSign.push(perSecond((i) => gmSuite.sign(msgs[i % 64], gmPriv)));
    runs.rsaSign.push(perSecond((i) => intlSuite.sign(msgs[i % 64], rsaPriv)));
    runs.gmVerify.push(perSecond((i) => { if (!gmSuite.verify(msgs[i % 64], gmSigs[i % 64], gmPub)) throw new Error('gm verify'); }));
    runs.rsaVerify.push(perSecond((i) => { if (!intlSuite.verify(msgs[i % 64], rsaSigs[i % 64], rsaPub)) throw new Error('rsa verify'); }));
    runs.gmWrap.push(perSecond(() => gmSuite.wrapKey(gmKey, gmPub)));
    runs.rsaWrap.push(perSecond(() => intlSuite.wrapKey(intlKey, rsaPub)));
    const o = opensslSpeedSm2();
    if (o) {
      runs.osslSign.push(o.sign);
      runs.osslVerify.push(o.verify);
    }
    progress(`signatures rep ${rep + 1}/${REPS}: ${Object.entries(runs).map(([k, v]) => `${k} ${(v.at(-1) ?? 0).toFixed(0)}`).join(', ')} /s`);
  }
  const best = (k) => Math.max(...runs[k]);
  report('gm-sm2-sign', best('gmSign'), 'sign/s', best('rsaSign'));
  report('gm-sm2-verify', best('gmVerify'), 'verify/s', best('rsaVerify'));
  if (runs.osslSign.length) {
    report('gm-sm2-sign-vs-openssl', best('gmSign'), 'sign/s', best('osslSign'));
    report('gm-sm2-verify-vs-openssl', best('gmVerify'), 'verify/s', best('osslVerify'));
  } else progress('`openssl speed sm2` gave no SM2 line: no -vs-openssl results');
  report('gm-sm2-wrap', best('gmWrap'), 'wrap/s', best('rsaWrap'));
}
