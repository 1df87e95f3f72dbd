/**
 * The agency-side receiver (`recgw receiver`): takes gateways' uploads from a shared MQTT subscription, checks
 * and stores them (ledger-ingest, file-ingest) and answers with signed receipts. A device's messages are handled one
 * at a time in the order they came, several devices' side by side (in-order.ts), at most IN_HAND at once.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import mqtt, { type MqttClient, type IPublishPacket } from 'mqtt';
import { describe } from '../util/errors.js';
import { startOrUndo } from '../util/lifecycle.js';
import type { Logger } from '../util/log.js';
import { endClient, mqttTlsOptions, noDelay, reportFlapping, subscribeOnConnect } from '../uplink/link.js';
import { decodeChunk, decodeEntries, decodeHello, parseTopic, topics, type StateMessage } from '../uplink/wire.js';
import type { Receipt } from '../evidence/receipt.js';
import type { ReceiverConfig } from './config.js';
import { brokerCaPems, loadReceiverKeys } from './keys.js';
import type { HeldLock } from '../state/folder-lock.js';
import { takeReceiverNameLock } from './name-lock.js';
import { isS3Location, openStore, parseS3Location } from '../store/open-store.js';
import { S3Partials } from './s3-partials.js';
import type { EvidenceStore } from '../store/store.js';
import type { StorePlace } from './store-place.js';
import type { ReceiverSql } from './receiver-sql.js';
import { openReceiverSql } from './open-sql.js';
import { DeviceLimits } from './limits.js';
import { PartialSweep } from './partial-sweep.js';
import { LedgerIngest } from './ledger-ingest.js';
import { Filing } from './filing.js';
import { FileIngest } from './file-ingest.js';
import { InOrder } from './in-order.js';
import { ReceiverStatus } from './receiver-status.js';
import { CrlWatch } from './crl-watch.js';
import { AlertIngest } from './alert-ingest.js';
import { alertLogLine } from './alert-log.js';
import { openReceiverLog, type LogContext, type ReceiverLog } from './receiver-log.js';
import { RetentionRemover } from './retention-remover.js';

/**
 * Messages in hand at once: one device's wait for each other, so this many devices' messages go on side by side
 * while one waits for the object store or an fsync (bench/README.md, s3-ingest). Below mosquitto's receive maximum (20).
 */
export const IN_HAND = 8;

/**
 * How long an entries receipt's filing waits for its segment's receipt to join it (filing.ts): one append of
 * receipts.jsonl and one head.json per segment where there were two and one (bench/README.md, s3-ingest: at 200 ms
 * the segment came too late half the time). Below a gateway's default answer timeout (uplink.answerTimeoutSeconds,
 * 15 s); a gateway that times out sooner asks with a hello, which files at once.
 */
export const FILING_LINGER_MS = 1000;

export interface ReceiverStats {
  /** Chunks and their bytes taken in, resends included: what a resumed upload cost. */
  chunks: number;
  chunkBytes: number;
  entries: number;
  files: number;
  alerts: number;
  refused: number;
  ignored: number;
}

export class Receiver {
  private sql: ReceiverSql | undefined;
  private client: MqttClient | undefined;
  private ledger: LedgerIngest | undefined;
  private files: FileIngest | undefined;
  private alerts: AlertIngest | undefined;
  private sweep: PartialSweep | undefined;
  readonly stats: ReceiverStats = { chunks: 0, chunkBytes: 0, entries: 0, files: 0, alerts: 0, refused: 0, ignored: 0 };
  private connectWaiters: (() => void)[] = [];
  private subscribed = false;
  private inOrder: InOrder<IPublishPacket> | undefined;
  private stopping = false;
  private agencyLog: ReceiverLog | undefined;
  private crl: CrlWatch | undefined;
  private status: ReceiverStatus | undefined;
  private lock: HeldLock | undefined;
  private evidence: EvidenceStore | undefined;
  private partials: S3Partials | undefined;
  private filing: Filing | undefined;

  /**
   * `openLog` is for benches only (they measure the log's cost against a stand-in without it): a receiver always
   * runs the agency log, and nothing in its config can change that. `lock` is this receiver's name lock when the
   * caller took it first (`recgw receiver`, before loading these modules); released at stop.
   */
  constructor(
    private readonly cfg: ReceiverConfig,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly openLog: (c: LogContext) => Promise<ReceiverLog> | ReceiverLog = openReceiverLog,
    private readonly heldLock?: HeldLock,
  ) {}

  /** Start; when a step fails, undo what started (the lock included, so a corrected start in this process may follow). */
  async start(): Promise<void> {
    // Before anything reads or writes the store: a twin with this name would throw this one off the broker.
    this.lock = this.heldLock ?? (await takeReceiverNameLock(this.cfg, (why) => this.lostLock(why)));
    await startOrUndo(() => this.startParts(), () => this.stop());
  }

  private async startParts(): Promise<void> {
    const { cfg } = this;
    const { caPem, caPems, signer, encryption } = loadReceiverKeys(cfg, this.now());
    mkdirSync(cfg.work, { recursive: true });
    this.evidence = openStore(cfg.store, cfg.s3, (m) => this.log.warn(m));
    const unsure = await this.evidence.checkWriteOnce();
    if (unsure) this.log.warn(unsure);
    this.sql = await this.openSql();
    // Receivers on several hosts (PostgreSQL) keep unfinished files in the bucket, so any of them goes on with any
    // file. On SQLite receivers share one host, whose disk holds receiver.db anyway: the chunks stay in `work`,
    // where they cost a bucket no requests (docs/object-store.md §6).
    if (isS3Location(cfg.store) && cfg.database) this.partials = new S3Partials({ ...parseS3Location(cfg.store), ...cfg.s3! }, this.sql, cfg.s3!.partMiB);
    const place: StorePlace = { evidence: this.evidence, work: cfg.work, ...(this.partials ? { partials: this.partials } : {}), ...(isS3Location(cfg.store) ? {} : { folder: cfg.store }) };
    this.status = new ReceiverStatus(cfg.name, this.log.child('status'));
    const agencyLog = await this.openLog({ cfg, caPem, caPems, sql: this.sql, now: this.now(), log: this.log, alarms: this.status, evidence: this.evidence });
    this.agencyLog = agencyLog;
    this.crl = new CrlWatch(cfg.agency.crl, caPems, this.evidence, this.log.child('crl'), this.now);
    await this.crl.start();
    // One filing for both: a device's receipts go into its receipts.jsonl together, while its next messages go on.
    const filing = new Filing(this.evidence, this.sql, {
      report: (device, err) => this.log.error("could not write receipts into the store; they are written after the device's next upload or at the next start, and its receipts are sent then", { device, err: describe(err) }),
      lingerMs: FILING_LINGER_MS,
    });
    this.filing = filing;
    this.ledger = new LedgerIngest(place, this.sql, caPems, signer, cfg.name, this.log.child('ledger'), agencyLog, encryption, filing);
    this.ledger.useRevocations(this.crl.revocations);
    this.files = new FileIngest(place, this.sql, signer, cfg.name, agencyLog, filing);
    this.alerts = new AlertIngest(place, this.sql, caPems, cfg.name);
    this.alerts.useRevocations(this.crl.revocations);
    await this.ledger.recoverAll();
    const unfiled = await new Filing(this.evidence, this.sql).fileAll();
    if (unfiled > 0) this.log.info('wrote the receipts and records an earlier run committed but was stopped before writing', { devices: unfiled });
    // Retention deletions an earlier run logged but did not finish: their files go now (retention-remover.ts).
    const removals = await new RetentionRemover(this.evidence, this.sql, agencyLog, signer, cfg.name, () => this.now().getTime(), () => agencyLog.grew()).finishAll();
    if (removals.finished > 0) this.log.info('finished the retention deletions an earlier run logged but was stopped before removing', { deletions: removals.finished });
    for (const f of removals.failed) this.log.error('could not finish a retention deletion an earlier run logged; it is tried again at the next start and by recgw retention apply', { deletion: f.id, err: f.why });
    const dropped = await this.files.dropEarlierClaims();
    if (dropped > 0) this.log.info('dropped the claims of an earlier run that stopped mid-write; those bytes are written again', { claims: dropped });
    this.limitDevices(this.sql);
    const tls = { key: readFileSync(cfg.tls.key, 'utf8'), cert: readFileSync(cfg.tls.cert, 'utf8'), ca: brokerCaPems(cfg, caPem).join('') };
    const client = mqtt.connect(cfg.broker, {
      clientId: `${cfg.name}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      protocolVersion: cfg.protocolVersion,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      ...mqttTlsOptions(tls),
    });
    const inOrder = new InOrder<IPublishPacket>(
      (packet) => this.handle(packet).catch((err: unknown) => this.log.error('handling an upload failed', { topic: packet.topic, err: describe(err) })),
      IN_HAND,
      (packet) => parseTopic(packet.topic)?.device ?? '',
    );
    // mqtt.js sends the PUBACK when `done` is called. Once stopping, a message is neither handled nor acknowledged:
    // the gateway sends it again to whichever receiver answers its next hello.
    client.handleMessage = (packet, done) => {
      if (!this.stopping) inOrder.push(packet, done);
    };
    this.inOrder = inOrder;
    client.on('connect', () => {
      noDelay(client);
      subscribeOnConnect(client, [topics.receiverSubscription(cfg.shareGroup), topics.receiverAlertSubscription(cfg.shareGroup)], this.log, (granted) => {
        if (!granted) return;
        this.subscribed = true;
        this.log.info('receiver ready', { broker: cfg.broker, store: cfg.store, database: this.sql?.where, group: cfg.shareGroup });
        for (const w of this.connectWaiters.splice(0)) w();
      });
    });
    client.on('close', () => (this.subscribed = false));
    client.on('error', (err) => this.log.warn('broker connection problem', { err: describe(err) }));
    reportFlapping(client, this.log, 'receiver');
    this.status.start(client);
    this.client = client;
  }

  /** The receivers' database: PostgreSQL when the config names one (`database`), else `<store>/receiver.db`. */
  private openSql(): Promise<ReceiverSql> {
    return openReceiverSql(this.cfg);
  }

  /**
   * The name lock's database session ended (PostgreSQL restarted, the network dropped it): a twin could now take the
   * name. Stop as for SIGTERM; the service manager starts this receiver again, which takes the lock again or is
   * refused with where the twin runs.
   */
  lostLock(why: string): void {
    if (this.stopping) return;
    this.log.error("lost this receiver's name lock in the database; stopping, to start again and take it anew", { name: this.cfg.name, why });
    process.kill(process.pid, 'SIGTERM');
  }

  /** What one device may cost the shared store: checked as messages come, and swept every minute. */
  private limitDevices(sql: ReceiverSql): void {
    const limits = new DeviceLimits(sql, this.cfg.limits);
    this.ledger!.useLimits(limits);
    this.files!.useLimits(limits);
    this.sweep = new PartialSweep({ evidence: this.evidence!, work: this.cfg.work, ...(this.partials ? { partials: this.partials } : {}) }, sql, this.cfg.limits, this.log.child('sweep'));
    this.sweep.start();
  }

  /** Resolves once connected and subscribed. */
  ready(): Promise<void> {
    return this.subscribed ? Promise.resolve() : new Promise((r) => this.connectWaiters.push(r));
  }

  async stop(): Promise<void> {
    for (const w of this.connectWaiters.splice(0)) w();
    // Finish what was acknowledged while still connected: its receipts go out before the connection ends.
    this.stopping = true;
    await this.inOrder?.drain();
    // Their receipts are filed, then sent.
    await this.filing?.drain();
    this.status?.stop();
    if (this.client) await endClient(this.client);
    this.client = undefined;
    await this.agencyLog?.close();
    this.sweep?.stop();
    this.crl?.stop();
    await this.partials?.close();
    this.partials = undefined;
    await this.sql?.close();
    this.sql = undefined;
    await this.evidence?.close();
    this.evidence = undefined;
    this.lock?.release();
    this.lock = undefined;
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    const t = parseTopic(packet.topic);
    // No copy: a chunk's data is a view into the payload all the way to the file.
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (!t) return;
    switch (t.kind) {
      case 'alert':
        return this.alert(t.device, payload);
      case 'up/hello':
        return this.hello(t.device, payload);
      case 'up/entries':
        return this.entries(t.device, payload);
      case 'up/chunk':
        return this.chunk(t.device, payload);
    }
  }

  private refuse(device: string, what: string, problem: string): void {
    this.stats.refused++;
    this.log.warn(`refused ${what}`, { device, problem });
  }

  private async hello(device: string, payload: Buffer): Promise<void> {
    const d = decodeHello(payload, device);
    if (!d.ok) return this.refuse(device, 'a hello', d.problem);
    // The gateway waits for an answer: what lingers is filed now, and its receipts sent.
    void this.filing!.file(device);
    const receipts: Receipt[] = [];
    const files: StateMessage['files'] = {};
    for (const f of d.value.files) {
      let s = await this.files!.state(device, f.name);
      // Every byte here but not stored: a receiver stopped between a file's last chunk and storing it. Store it
      // now, or the gateway, told we have it all, would send nothing and wait for a receipt for ever.
      if ('have' in s.state && s.state.have >= f.size) {
        await this.finalize(device, f.name);
        await this.filing!.filed(device);
        s = await this.files!.state(device, f.name);
      }
      files[f.name] = s.state;
      if (s.receipt) receipts.push(s.receipt);
    }
    const last = await this.ledger!.lastReceipt(device);
    if (last) receipts.push(last);
    const state: StateMessage = { v: 1, type: 'state', device, re: d.value.id, ledger: await this.ledger!.deviceState(device), files, receipts, log: await this.agencyLog!.state(d.value.log?.size ?? 0) };
    this.publish(topics.state(device), JSON.stringify(state));
  }

  private async entries(device: string, payload: Buffer): Promise<void> {
    const d = decodeEntries(payload, device);
    if (!d.ok) return this.refuse(device, 'an entries message', d.problem);
    const out = await this.ledger!.ingest(device, d.value.lines, d.value.deadline, this.now());
    if (out.refused) this.stats.refused++;
    this.stats.entries += out.appended;
    if (out.appended > 0) this.agencyLog!.grew();
    if (out.receipt) this.publishFiled(device, JSON.stringify(out.receipt));
    for (const name of out.manifests) await this.finalize(device, name);
  }

  private async alert(device: string, payload: Buffer): Promise<void> {
    const out = await this.alerts!.take(device, payload, this.now());
    if (out.kind === 'refused') return this.refuse(device, 'an alert', out.why);
    if (out.kind === 'repeated') return this.log.info('ignored an alert already recorded', { device, seq: out.alert.entry.seq });
    this.stats.alerts++;
    const { level, msg, fields } = alertLogLine(out.alert, out.record);
    this.log[level](msg, fields);
    if (out.forkedFrom) {
      this.log.error('two different entries signed by this device at one seq: its ledger forked (a copied key or SD card?). Both alerts are recorded; investigate', { device, seq: out.alert.entry.seq, hashes: [out.alert.hash, ...out.forkedFrom] });
    }
  }

  private async chunk(device: string, payload: Buffer): Promise<void> {
    const d = decodeChunk(payload, device);
    if (!d.ok) return this.refuse(device, 'a chunk', d.problem);
    this.stats.chunks++;
    this.stats.chunkBytes += d.value.data.length;
    const out = await this.files!.chunk(d.value.header, d.value.data);
    if (out.kind === 'refused') return this.refuse(device, 'a chunk', out.why);
    if (out.kind === 'ignored') {
      this.stats.ignored++;
      this.log.info('ignored a chunk', { device, why: out.why });
      return;
    }
    if (out.complete) await this.finalize(device, d.value.header.name);
  }

  private async finalize(device: string, name: string): Promise<void> {
    const r = await this.files!.finalize(device, name, this.now);
    if (!r) return;
    if ('refused' in r) return this.refuse(device, 'a segment file', r.refused);
    this.agencyLog!.grew();
    this.stats.files++;
    this.log.info('stored a segment', { device, name, size: r.size });
    this.publishFiled(device, JSON.stringify(r));
  }

  /**
   * A receipt goes out once it is in the device's receipts.jsonl, without holding up the device's next message
   * (filing.ts). A filing that failed was reported; the gateway asks again after its next hello.
   */
  private publishFiled(device: string, receipt: string): void {
    this.filing!.filed(device).then(
      () => this.publish(topics.receipt(device), receipt),
      () => undefined,
    );
  }

  private publish(topic: string, payload: string): void {
    this.client?.publish(topic, payload, { qos: 1 }, (err) => {
      if (err) this.log.warn('could not send to the gateway; it will ask again', { topic, err: describe(err) });
    });
  }
}
