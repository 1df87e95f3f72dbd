/**
 * The demo installation, start to end, on this machine: a demo agency CA, an embedded MQTT broker (or the one
 * given), the agency receiver, and a gateway with a simulated camera and microphone, composed exactly as in
 * production (Gateway, Receiver). One session with a declared interruption and its resume, then every receipt,
 * then the verifier on the receiver's store.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/fsx.js';
import { join } from 'node:path';
import { caPaths, ensureLogKey, initCa, issueServerCertificate } from '../pki/ca.js';
import { provisionGateway, provisionReceiver, transportCaOf } from './provision.js';
import type { SuiteName } from '../crypto/suite.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { Gateway } from '../app/gateway.js';
import { Receiver } from '../receiver/receiver.js';
import { verifyStore } from '../verify/verifier.js';
import type { VerifyReport } from '../verify/findings.js';
import { loadPrivateKey } from '../pki/keys.js';
import type { Logger } from '../util/log.js';
import { RecgwError } from '../util/errors.js';
import { localTime } from '../util/local-time.js';
import { startDemoDesk, type DemoDesk } from './desk.js';

export interface DemoOptions {
  out: string;
  seconds: number;
  broker?: string;
  /** The installation's time zone (the gateway's time.zone): the times the demo prints are in it. */
  zone: string;
  /** The agency's algorithm suite (default intl): gm makes an SM2 CA with a transport CA for the broker's TLS (§17.8). */
  suite?: SuiteName;
  log: Logger;
  /** One line of progress for the person watching. */
  say: (text: string) => void;
}

export interface DemoResult {
  report: VerifyReport;
  storeDir: string;
  caDir: string;
  sessionId: string;
  /** The evidence desk over the demo's index, still running: the caller stops it. */
  desk: DemoDesk;
}

const DEVICE = 'demo-room-1';
/** The demo receiver's name: with `--broker`, that broker's ACL must give it a receiver block (operations.md §11). */
export const DEMO_RECEIVER = 'receiver:demo';
const OFFICERS = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Count down `seconds`, saying so every few seconds. */
async function recordFor(seconds: number, what: string, say: (t: string) => void): Promise<void> {
  for (let left = seconds; left > 0; left -= 5) {
    say(`  ${what}: ${left} s left`);
    await sleep(Math.min(5, left) * 1000);
  }
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const caDir = join(o.out, 'ca');
  const storeDir = join(o.out, 'receiver');
  const ca = existsSync(join(caDir, 'ca.pem')) ? caPaths(caDir) : initCa({ out: caDir, agencyName: '演示执法局 (demo agency)', ...(o.suite ? { suite: o.suite } : {}) });
  // A CA folder from before the agency log gets its log key now.
  ensureLogKey(caDir);
  const transport = transportCaOf(ca);
  o.say(
    transport
      ? `[1/7] agency CA in ${caDir}, suite gm (SM2/SM3/SM4: ca.pem, agency-key.pem, receipt key), and its transport CA for the broker's TLS only (${transport}, ECDSA P-256)`
      : `[1/7] agency CA in ${caDir} (ca.pem, agency-key.pem, receipt key)`,
  );

  let broker: EmbeddedBroker | undefined;
  let url = o.broker;
  if (!url) {
    const server = issueServerCertificate({ caDir, names: ['localhost', '127.0.0.1'] });
    // Its certificate (not its key) is kept, to be checked: under gm, against the transport CA.
    mkdirSync(join(o.out, 'broker'), { recursive: true });
    writeFileAtomicSync(join(o.out, 'broker', 'server.pem'), server.certPem);
    broker = await startEmbeddedBroker({ key: server.keyPem, cert: server.certPem, ca: readFileSync(transport ?? ca.caCert, 'utf8') });
    url = broker.url;
  }
  o.say(`[2/7] MQTT broker ${url}${broker ? ' (embedded, TLS with client certificates, per-device ACL)' : `: its ACL must give the demo receiver, ${DEMO_RECEIVER}, a receiver block (docs/operations.md §11)`}`);

  let sessionId: string | undefined;
  let receiver: Receiver | undefined;
  let gateway: Gateway | undefined;
  let desk: DemoDesk | undefined;
  try {
    const rxConf = provisionReceiver({ dir: join(o.out, 'receiver-config'), caDir, name: DEMO_RECEIVER, broker: url, store: storeDir, shareGroup: broker ? null : undefined, protocolVersion: broker ? 4 : 5 });
    receiver = new Receiver(rxConf.config, o.log.child('receiver'));
    const gwConf = provisionGateway({
      dir: join(o.out, 'gateway'),
      caDir,
      deviceId: DEVICE,
      // The demo runs anywhere, containers included, where the OS may not say whether the host keeps time: assumed,
      // and every manifest says so ("assumed": true); verify and report count those segments.
      config: { time: { source: 'host', assumeSynchronised: true, zone: o.zone }, uplink: { broker: url, protocolVersion: broker ? 4 : 5, answerTimeoutSeconds: 5, retentionHours: 72 } },
    });
    gateway = new Gateway(gwConf.config, o.log.child('gateway'));
    await receiver.start();
    await withTimeout(receiver.ready(), 15_000, `the receiver could not subscribe at ${url}`);
    o.say(`[3/7] receiver storing into ${storeDir}`);
    desk = await startDemoDesk({ out: o.out, caDir, storeDir, zone: o.zone, log: o.log.child('desk') });
    o.say(`  evidence desk: ${desk.url}  sign in as ${desk.name}, password ${desk.password} (a supervisor; the index ${desk.database} follows the store every few seconds)`);
    await gateway.start();
    o.say(`[4/7] gateway ${DEVICE} enrolled and running: ${gwConf.config.recording.sources.map((s) => `${s.id} (${s.kind}, simulated)`).join(', ')}`);

    const rec = gateway.recorderInterface;
    const first = Math.ceil(o.seconds / 2);
    const { session } = await rec.startSession({ matter: '现场检查', caseRef: 'DEMO-2026-001', officers: OFFICERS, party: '演示当事人' });
    sessionId = session.sessionId;
    o.say(`[5/7] session ${sessionId} started at ${localTime(session.start, o.zone)}: ${session.matterLabel}, case ${session.caseRef}, officers ${OFFICERS.map((x) => `${x.name}:${x.badge}`).join(', ')}`);
    await recordFor(first, 'recording', o.say);
    await rec.pauseSession('site-change');
    o.say(`  paused at ${localTime(Date.now(), o.zone)}: 转换执法场所 (change of site), declared by the officer`);
    await sleep(3000);
    await rec.resumeSession();
    o.say(`  resumed at ${localTime(Date.now(), o.zone)}: the gateway asks for the reason aloud (请口述中断原因) and listens on the microphone`);
    await recordFor(o.seconds - first, 'recording', o.say);
    const closed = await rec.stopSession();
    o.say(`  stopped at ${closed.end ? localTime(closed.end, o.zone) : '?'}; interruptions: ${closed.interruptions.map((i) => `${i.reason} (${i.origin})`).join(', ') || 'none'}`);
    if (closed.lacksStatement) {
      // The simulated microphone plays a tone, which is no speech: nobody was heard giving the reason.
      await rec.statement('恢复录制后未口述中断原因：转换执法场所。', OFFICERS, sessionId);
      o.say('  no spoken reason was heard (the simulated microphone plays a tone): two officers confirmed a written statement');
    }

    await waitForReceipts(gateway, o.say);
    await desk.refresh();
  } catch (err) {
    await desk?.stop().catch(() => undefined);
    throw err;
  } finally {
    await gateway?.stop().catch((err: unknown) => o.log.error('stopping the gateway failed', { err: String(err) }));
    await receiver?.stop().catch((err: unknown) => o.log.error('stopping the receiver failed', { err: String(err) }));
    await broker?.stop();
  }

  o.say(`[7/7] verifying the receiver's store with the agency CA and decryption key`);
  try {
    const report = await verifyStore(storeDir, { caPems: [readFileSync(ca.caCert, 'utf8')], agencyKeys: [loadPrivateKey(ca.agencyKey, 'agency key', '')] });
    return { report, storeDir, caDir, sessionId: sessionId ?? '', desk };
  } catch (err) {
    await desk.stop().catch(() => undefined);
    throw err;
  }
}

/** Every sealed segment and ledger entry receipted; progress once a second; give up after five minutes. */
async function waitForReceipts(gateway: Gateway, say: (t: string) => void): Promise<void> {
  const queue = gateway.uplinkQueue;
  if (!queue) throw new RecgwError('internal', 'the demo gateway has no uplink');
  const deadline = Date.now() + 300_000;
  let last = '';
  for (;;) {
    queue.sync();
    const s = queue.summary();
    if (s.files === 0 && s.entries === 0) break;
    const line = `[6/7] uploading: ${s.files} segment(s), ${(s.bytes / 1e6).toFixed(1)} MB and ${s.entries} ledger entries awaiting the agency's receipt`;
    if (line !== last) say(line);
    last = line;
    if (Date.now() > deadline) throw new RecgwError('uplink', 'the receiver did not confirm everything within five minutes; see the log above');
    await sleep(1000);
  }
  say('[6/7] every segment and ledger entry has a signed receipt from the receiver');
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new RecgwError('uplink', `${what} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}
