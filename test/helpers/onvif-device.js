// A minimal ONVIF device (Profile S camera) for the tests: no packaged ONVIF device or simulator exists in Debian or
// npm that the tests could start, so this is our own, written from the ONVIF Core and Media specifications and kept
// to what recgw uses:
//   - SOAP 1.2 over HTTP: the device service (GetSystemDateAndTime, SetSystemDateAndTime, GetServices,
//     GetCapabilities, GetDeviceInformation) and the media service (GetProfiles, GetVideoSources, GetStreamUri,
//     GetVideoEncoderConfiguration(s), SetVideoEncoderConfiguration, GetOSDs, CreateOSD, SetOSD);
//   - WS-UsernameToken PasswordDigest (base64(sha1(nonce + created + password))) on every call but
//     GetSystemDateAndTime, as the Core spec has it; a wrong token is answered 400 with a ter:NotAuthorized fault;
//   - WS-Discovery: answers a Probe for NetworkVideoTransmitter sent to 239.255.255.250:3702 or to it directly.
// The camera's clock is the host's plus an offset the test sets (the "camera" drifts); it carries whole seconds,
// like the protocol. Plain JavaScript so that a test can also start it in a network namespace with `node`:
//   node onvif-device.js --address 10.1.2.2 [--port 0] [--user U --password P]   prints one JSON line when ready
import { createServer } from 'node:http';
import { Buffer } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
  ter: 'http://www.onvif.org/ver10/error',
};
const MULTICAST = '239.255.255.250';

const esc = (s) => String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
/** The text of the first element with this local name (any prefix), or undefined. */
const tag = (xml, name) => {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w-]+:)?${name}>`).exec(xml);
  return m ? m[1].trim() : undefined;
};
const attr = (xml, name, a) => {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}\\s[^>]*?${a}="([^"]*)"`).exec(xml);
  return m ? m[1] : undefined;
};
const envelope = (body) =>
  `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}" xmlns:ter="${NS.ter}"><s:Body>${body}</s:Body></s:Envelope>`;
const fault = (code, sub, text) =>
  envelope(`<s:Fault><s:Code><s:Value>s:${code}</s:Value><s:Subcode><s:Value>${sub}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">${esc(text)}</s:Text></s:Reason></s:Fault>`);

export class OnvifDevice {
  /**
   * @param {{ address?: string, port?: number, user?: string, password?: string, rtspPort?: number, osd?: boolean,
   *   govLength?: number, fps?: number, clockOffsetMs?: number, videoSourceToken?: string }} o
   */
  constructor(o = {}) {
    this.address = o.address ?? '127.0.0.1';
    this.port = o.port ?? 0;
    this.user = o.user ?? 'admin';
    this.password = o.password ?? 'cam-pass-1';
    this.rtspPort = o.rtspPort ?? 8554;
    /** false: the camera has no OSD (the media service answers ActionNotSupported). */
    this.osdSupported = o.osd ?? true;
    this.clockOffsetMs = o.clockOffsetMs ?? 0;
    /** The video source's token; another than the profiles' SourceToken ('vs0') is a camera whose lists disagree. */
    this.videoSourceToken = o.videoSourceToken ?? 'vs0';
    this.urn = `urn:uuid:${randomUUID()}`;
    this.encoder = { token: 'vec0', name: 'MainStream', width: 1920, height: 1080, fps: o.fps ?? 25, govLength: o.govLength ?? 50, bitrate: 4096, profile: 'High' };
    /** OSDs on the one video source configuration, as a camera keeps them. */
    this.osds = [];
    /** Every SOAP action the device was asked, in order, with whether it was authenticated. */
    this.calls = [];
    this.timeZone = 'UTC0';
    this.dateTimeType = 'NTP';
    this.http = undefined;
    this.udp = undefined;
  }

  /** The camera's clock now (ms since the epoch): the host's plus the drift the test set. */
  cameraNow() {
    return Date.now() + this.clockOffsetMs;
  }

  get xaddr() {
    return `http://${this.address}:${this.port}/onvif/device_service`;
  }

  get rtspUri() {
    return `rtsp://${this.address}:${this.rtspPort}/main`;
  }

  /** Start HTTP; with `discovery`, also answer WS-Discovery probes on UDP 3702 (joining the group on `address`). */
  async start({ discovery = false } = {}) {
    this.http = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const { status, xml } = this.handle(req.url ?? '', body);
        res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8' });
        res.end(xml);
      });
    });
    await new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.port, this.address, resolve);
    });
    this.port = this.http.address().port;
    if (discovery) await this.startDiscovery();
  }

  async startDiscovery() {
    const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    udp.on('message', (msg, from) => this.probe(msg.toString('utf8'), from));
    await new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(3702, () => resolve());
    });
    udp.addMembership(MULTICAST, this.address);
    this.udp = udp;
  }

  async stop() {
    this.udp?.close();
    await new Promise((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
  }

  probe(xml, from) {
    if (!/<(?:\w+:)?Probe[\s>]/.test(xml)) return;
    const types = tag(xml, 'Types');
    if (types && !/NetworkVideoTransmitter/.test(types)) return;
    const id = tag(xml, 'MessageID') ?? '';
    const reply = `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap}" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<s:Header><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID><a:RelatesTo>${esc(id)}</a:RelatesTo><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header>
<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>${this.urn}</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/RecgwTestCam onvif://www.onvif.org/hardware/TC-1080</d:Scopes>
<d:XAddrs>${this.xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`;
    this.udp?.send(reply, from.port, from.address);
  }

  /** WS-UsernameToken PasswordDigest: who may call; an absent or wrong token is not. */
  authorised(xml) {
    const token = tag(xml, 'UsernameToken');
    if (!token) return false;
    const user = tag(token, 'Username');
    const digest = tag(token, 'Password');
    const nonce = tag(token, 'Nonce');
    const created = tag(token, 'Created');
    if (user !== this.user || !digest || !nonce || !created) return false;
    const expected = createHash('sha1').update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(this.password)])).digest('base64');
    // A token far from the camera's clock is a replay; a minute either way allows for clocks not yet set.
    return expected === digest && Math.abs(Date.parse(created) - this.cameraNow()) < 60_000;
  }

  handle(url, xml) {
    const body = tag(xml, 'Body') ?? '';
    const m = /<(?:([\w-]+):)?(\w+)[\s/>]/.exec(body);
    const action = m ? m[2] : '';
    const authed = this.authorised(xml);
    this.calls.push({ action, authed, url });
    if (action !== 'GetSystemDateAndTime' && !authed) return { status: 400, xml: fault('Sender', 'ter:NotAuthorized', 'Sender not Authorized') };
    const method = this[`on${action}`];
    if (typeof method !== 'function') return { status: 400, xml: fault('Receiver', 'ter:ActionNotSupported', `${action} is not supported`) };
    const out = method.call(this, body, url);
    return typeof out === 'string' ? { status: 200, xml: envelope(out) } : out;
  }

  // ---- device service ----

  onGetSystemDateAndTime() {
    const d = new Date(this.cameraNow());
    return `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>${this.dateTimeType}</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>
<tt:TimeZone><tt:TZ>${this.timeZone}</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>
<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`;
  }

  onSetSystemDateAndTime(body) {
    const type = tag(body, 'DateTimeType');
    if (type !== 'Manual' && type !== 'NTP') return { status: 400, xml: fault('Sender', 'ter:InvalidArgVal', 'DateTimeType') };
    this.dateTimeType = type;
    const tz = tag(body, 'TZ');
    if (tz) this.timeZone = tz;
    const utc = tag(body, 'UTCDateTime');
    if (utc) {
      const n = (k) => Number(tag(utc, k));
      const set = Date.UTC(n('Year'), n('Month') - 1, n('Day'), n('Hour'), n('Minute'), n('Second'));
      // The camera starts counting from the whole second it was given, as real ones do.
      this.clockOffsetMs = set - Date.now();
    }
    return '<tds:SetSystemDateAndTimeResponse/>';
  }

  onGetServices() {
    const base = `http://${this.address}:${this.port}/onvif`;
    return `<tds:GetServicesResponse><tds:Service><tds:Namespace>${NS.tds}</tds:Namespace><tds:XAddr>${base}/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>
<tds:Service><tds:Namespace>${NS.trt}</tds:Namespace><tds:XAddr>${base}/media_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service></tds:GetServicesResponse>`;
  }

  onGetCapabilities() {
    const base = `http://${this.address}:${this.port}/onvif`;
    return `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${base}/device_service</tt:XAddr></tt:Device><tt:Media><tt:XAddr>${base}/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`;
  }

  onGetDeviceInformation() {
    return '<tds:GetDeviceInformationResponse><tds:Manufacturer>RecgwTest</tds:Manufacturer><tds:Model>TC-1080</tds:Model><tds:FirmwareVersion>1.0.0</tds:FirmwareVersion><tds:SerialNumber>SN0001</tds:SerialNumber><tds:HardwareId>TC1</tds:HardwareId></tds:GetDeviceInformationResponse>';
  }

  // ---- media service ----

  encoderXml(el) {
    const e = this.encoder;
    return `<${el} token="${e.token}"><tt:Name>${e.name}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>${e.width}</tt:Width><tt:Height>${e.height}</tt:Height></tt:Resolution>
<tt:Quality>4</tt:Quality><tt:RateControl><tt:FrameRateLimit>${e.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${e.bitrate}</tt:BitrateLimit></tt:RateControl>
<tt:H264><tt:GovLength>${e.govLength}</tt:GovLength><tt:H264Profile>${e.profile}</tt:H264Profile></tt:H264><tt:SessionTimeout>PT60S</tt:SessionTimeout></${el}>`;
  }

  onGetProfiles() {
    return `<trt:GetProfilesResponse><trt:Profiles token="prof0" fixed="true"><tt:Name>MainStream</tt:Name>
<tt:VideoSourceConfiguration token="vsc0"><tt:Name>VideoSource</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>
${this.encoderXml('tt:VideoEncoderConfiguration')}</trt:Profiles></trt:GetProfilesResponse>`;
  }

  onGetVideoSources() {
    return `<trt:GetVideoSourcesResponse><trt:VideoSources token="${this.videoSourceToken}"><tt:Framerate>25</tt:Framerate><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>`;
  }

  onGetStreamUri(body) {
    if (tag(body, 'ProfileToken') !== 'prof0') return { status: 400, xml: fault('Sender', 'ter:NoProfile', 'no such profile') };
    return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${this.rtspUri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`;
  }

  onGetVideoEncoderConfiguration(body) {
    if (tag(body, 'ConfigurationToken') !== this.encoder.token) return { status: 400, xml: fault('Sender', 'ter:NoConfig', 'no such configuration') };
    return `<trt:GetVideoEncoderConfigurationResponse>${this.encoderXml('trt:Configuration')}</trt:GetVideoEncoderConfigurationResponse>`;
  }

  onGetVideoEncoderConfigurations() {
    return `<trt:GetVideoEncoderConfigurationsResponse>${this.encoderXml('trt:Configurations')}</trt:GetVideoEncoderConfigurationsResponse>`;
  }

  onSetVideoEncoderConfiguration(body) {
    if (attr(body, 'Configuration', 'token') !== this.encoder.token) return { status: 400, xml: fault('Sender', 'ter:NoConfig', 'no such configuration') };
    const gov = Number(tag(tag(body, 'H264') ?? '', 'GovLength'));
    if (!Number.isInteger(gov) || gov < 1 || gov > 400) return { status: 400, xml: fault('Sender', 'ter:ConfigModify', 'GovLength out of range') };
    const fps = Number(tag(body, 'FrameRateLimit'));
    this.encoder.govLength = gov;
    if (Number.isInteger(fps) && fps > 0) this.encoder.fps = fps;
    return '<trt:SetVideoEncoderConfigurationResponse/>';
  }

  osdXml(o) {
    const text = o.kind === 'DateAndTime'
      ? `<tt:Type>DateAndTime</tt:Type><tt:DateFormat>${esc(o.dateFormat)}</tt:DateFormat><tt:TimeFormat>${esc(o.timeFormat)}</tt:TimeFormat>`
      : `<tt:Type>Plain</tt:Type><tt:PlainText>${esc(o.text)}</tt:PlainText>`;
    return `<trt:OSDs token="${o.token}"><tt:VideoSourceConfigurationToken>vsc0</tt:VideoSourceConfigurationToken><tt:Type>Text</tt:Type><tt:Position><tt:Type>${o.position}</tt:Type></tt:Position><tt:TextString>${text}</tt:TextString></trt:OSDs>`;
  }

  readOsd(body) {
    const ts = tag(body, 'TextString') ?? '';
    const kind = tag(ts, 'Type');
    const unesc = (s) => (s ?? '').replace(/&lt;|&gt;|&quot;|&amp;/g, (c) => ({ '&lt;': '<', '&gt;': '>', '&quot;': '"', '&amp;': '&' })[c]);
    return kind === 'DateAndTime'
      ? { kind, dateFormat: tag(ts, 'DateFormat'), timeFormat: tag(ts, 'TimeFormat'), position: tag(tag(body, 'Position') ?? '', 'Type') ?? 'UpperLeft' }
      : { kind: 'Plain', text: unesc(tag(ts, 'PlainText')), position: tag(tag(body, 'Position') ?? '', 'Type') ?? 'LowerLeft' };
  }

  onGetOSDs() {
    if (!this.osdSupported) return { status: 400, xml: fault('Receiver', 'ter:ActionNotSupported', 'Optional Action Not Implemented') };
    return `<trt:GetOSDsResponse>${this.osds.map((o) => this.osdXml(o)).join('')}</trt:GetOSDsResponse>`;
  }

  onCreateOSD(body) {
    if (!this.osdSupported) return { status: 400, xml: fault('Receiver', 'ter:ActionNotSupported', 'Optional Action Not Implemented') };
    if (tag(body, 'VideoSourceConfigurationToken') !== 'vsc0') return { status: 400, xml: fault('Sender', 'ter:NoConfig', 'no such video source configuration') };
    const osd = { token: `osd${this.osds.length}`, ...this.readOsd(body) };
    this.osds.push(osd);
    return `<trt:CreateOSDResponse><trt:OSDToken>${osd.token}</trt:OSDToken></trt:CreateOSDResponse>`;
  }

  onSetOSD(body) {
    if (!this.osdSupported) return { status: 400, xml: fault('Receiver', 'ter:ActionNotSupported', 'Optional Action Not Implemented') };
    const token = attr(body, 'OSD', 'token');
    const i = this.osds.findIndex((o) => o.token === token);
    if (i < 0) return { status: 400, xml: fault('Sender', 'ter:NoConfig', 'no such OSD') };
    this.osds[i] = { token, ...this.readOsd(body) };
    return '<trt:SetOSDResponse/>';
  }
}

// Run as a program (in a network namespace): start with discovery and print where it listens.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (k) => {
    const i = process.argv.indexOf(`--${k}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const dev = new OnvifDevice({ address: arg('address') ?? '127.0.0.1', port: Number(arg('port') ?? 0), user: arg('user'), password: arg('password') });
  await dev.start({ discovery: true });
  process.stdout.write(JSON.stringify({ xaddr: dev.xaddr, urn: dev.urn, rtsp: dev.rtspUri }) + '\n');
  process.on('SIGTERM', () => void dev.stop().then(() => process.exit(0)));
}
