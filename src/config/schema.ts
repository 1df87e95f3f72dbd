/**
 * The installation config's JSON Schema. One file per installation, checked at start-up; unknown keys are
 * errors (a typo must not silently fall back to a default). `x-restart: true` marks keys (or whole sections) whose
 * change only takes effect after a restart; every other key the running gateway applies when the console changes
 * it (Gateway.configApplied). The console shows which is which.
 */
import { MAX_CHUNK_KIB } from '../uplink/wire.js';
import { DEVICE_ID_PATTERN } from '../pki/names.js';

export const SOURCE_DRIVERS = ['sim', 'v4l2', 'alsa', 'rtsp', 'rpicam'] as const;
export const INSTALLATIONS = ['interview-room', 'hearing-room', 'vehicle'] as const;

const path = { type: 'string', minLength: 1 } as const;

const source = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kind', 'driver'],
  properties: {
    id: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'short name, e.g. cam1, mic1' },
    kind: { enum: ['camera', 'microphone'] },
    driver: { enum: SOURCE_DRIVERS },
    label: { type: 'string', maxLength: 64 },
    device: { type: 'string', minLength: 1, description: 'v4l2: /dev/videoN; alsa: hw:1,0' },
    url: { type: 'string', pattern: '^rtsps?://', description: 'rtsp: the camera stream URL' },
    width: { type: 'integer', minimum: 160, maximum: 3840 },
    height: { type: 'integer', minimum: 120, maximum: 2160 },
    fps: { type: 'integer', minimum: 1, maximum: 60 },
    bitrateKbps: { type: 'integer', minimum: 32, maximum: 50000 },
    encoder: { enum: ['libx264', 'h264_v4l2m2m', 'copy'], description: 'video encoder; h264_v4l2m2m is the Pi hardware encoder' },
    sampleRate: { type: 'integer', enum: [8000, 16000, 22050, 32000, 44100, 48000] },
    channels: { type: 'integer', minimum: 1, maximum: 2 },
    frequency: { type: 'integer', minimum: 20, maximum: 20000, description: 'sim microphone: tone frequency' },
    withAudio: { type: 'boolean', description: 'sim camera: add a tone track' },
    simFilter: { type: 'string', minLength: 1, maxLength: 2000, description: 'sim: a lavfi graph replacing the test picture or tone (e.g. a black or silent input)' },
    onvif: {
      type: 'object',
      additionalProperties: false,
      required: ['user', 'password'],
      description: 'rtsp: the camera\'s ONVIF service, to set its clock and overlay and check its GOP (docs/operations.md)',
      properties: {
        url: { type: 'string', pattern: '^https?://', description: 'device service URL; default http://<the rtsp url\'s host>/onvif/device_service' },
        user: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^<>&]+$' },
        password: { type: 'string', maxLength: 128 },
        setClock: { type: 'boolean', default: true, description: "set the camera's clock from the gateway's (manual, UTC) at start and when pre-flight finds it off" },
        timeZone: { type: 'string', minLength: 1, maxLength: 64, default: 'CST-8', description: 'POSIX time zone the camera shows its time in (CST-8: Beijing time)' },
        overlay: { type: 'boolean', default: true, description: "the camera's own overlay (OSD): date and time, and overlayText" },
        overlayText: { type: 'string', minLength: 1, maxLength: 32, description: 'plain text on the picture; default: the device ID' },
        gopSeconds: { type: 'integer', minimum: 1, maximum: 10, description: "set the camera's GOP (H.264 GovLength) to this many seconds at start" },
      },
    },
    transport: {
      enum: ['tcp', 'udp'],
      description: 'rtsp: RTP over the RTSP connection (tcp, the default) or over UDP, for cameras that offer only UDP',
    },
  },
} as const;

/** Detector thresholds; the defaults and the measurements behind them are in docs/operations.md. */
const detectors = {
  type: 'object',
  additionalProperties: false,
  'x-restart': true,
  description: 'when a picture counts as black or frozen and a microphone as dead (docs/operations.md)',
  properties: {
    blackSeconds: { type: 'number', minimum: 0.5, maximum: 60, default: 2, description: 'a black picture shorter than this is no interruption' },
    blackPixelThreshold: { type: 'number', minimum: 0, maximum: 1, default: 0.1, description: 'a pixel darker than this fraction of the range counts as black' },
    freezeSeconds: { type: 'number', minimum: 1, maximum: 60, default: 2, description: 'an unchanged picture shorter than this is no interruption' },
    freezeNoise: { type: 'number', exclusiveMinimum: 0, maximum: 0.1, default: 0.001, description: 'mean frame difference below this counts as unchanged (0.001 is -60 dB)' },
    sampleFps: {
      type: 'number',
      minimum: 0.5,
      maximum: 25,
      default: 2,
      description: 'pictures a second the picture detectors look at (every frame is decoded; fewer are compared)',
    },
    silenceDb: {
      type: 'number',
      minimum: -120,
      maximum: -20,
      default: -90,
      description: 'a microphone whose samples all stay below this (dBFS) counts as dead; -90 is digital silence, a quiet room is far above it',
    },
    silenceSeconds: { type: 'number', minimum: 1, maximum: 600, default: 3, description: 'a dead microphone shorter than this is no interruption' },
  },
  default: {},
} as const;

/** Listening for the spoken explanation after a resume; the measurements behind the defaults: docs/operations.md §19. */
const explanation = {
  type: 'object',
  additionalProperties: false,
  'x-restart': true,
  description: 'after every resume the gateway listens on its microphones for the officers stating the reason aloud (docs/operations.md §19)',
  properties: {
    windowSeconds: { type: 'integer', minimum: 10, maximum: 600, default: 60, description: 'how long after a resume speech counts as the explanation' },
    levelDb: {
      type: 'number',
      minimum: -90,
      maximum: -10,
      default: -50,
      description: 'a 100 ms frame of the speech band (300-3400 Hz) louder than this (dBFS RMS) may be voice',
    },
    marginDb: { type: 'number', minimum: 0, maximum: 30, default: 6, description: "...and louder than the room's noise floor by this much (dB)" },
    minSpeechSeconds: { type: 'number', minimum: 0.5, maximum: 10, default: 1.5, description: 'voiced time an utterance needs to count as the explanation' },
    minModulationDb: {
      type: 'number',
      minimum: 0,
      maximum: 20,
      default: 2,
      description: 'mean change of level from frame to frame an utterance needs (syllables; a fan or a tone stays level)',
    },
  },
  default: {},
} as const;

export const configSchema = {
  $id: 'https://recgw.invalid/schema/config.json',
  $defs: {
    serialPort: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: {
        path: { type: 'string', minLength: 1, description: 'e.g. /dev/ttyUSB0 or /dev/serial/by-id/...' },
        baudRate: { type: 'integer', enum: [2400, 4800, 9600, 19200, 38400, 57600, 115200], default: 9600 },
      },
    },
  },
  type: 'object',
  additionalProperties: false,
  required: ['deviceId', 'installation', 'stateDir', 'agency', 'recording'],
  properties: {
    $schema: { type: 'string' },
    deviceId: {
      type: 'string',
      pattern: DEVICE_ID_PATTERN,
      'x-restart': true,
      description: 'unique device ID, the CN of the device certificate',
    },
    installation: { enum: INSTALLATIONS, 'x-restart': true },
    place: { type: 'string', maxLength: 200, description: 'where the installation is, e.g. 一号询问室' },
    stateDir: { ...path, 'x-restart': true, description: 'state database, keys, spool and sealed segments' },
    agency: {
      type: 'object',
      additionalProperties: false,
      required: ['caCert', 'encryptionCert'],
      properties: {
        caCert: { ...path, 'x-restart': true, description: "the agency CA certificate (PEM)" },
        transportCaCert: {
          ...path,
          'x-restart': true,
          description: "a gm agency's transport CA certificate (transport/ca.pem of `recgw ca init --suite gm`): the broker's TLS CA, and the issuer of this device's TLS certificate; required when the agency CA is gm",
        },
        encryptionCert: {
          ...path,
          'x-restart': true,
          description: "the agency's encryption certificate (agency-enc.pem): exactly one PEM certificate the agency CA issued for the role recgw-encryption",
        },
        roster: {
          ...path,
          'x-restart': true,
          description: "the agency's signed officer roster (recgw ca roster): with it, officers confirm starts, early stops and statements with their PINs",
        },
      },
    },
    time: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      properties: {
        source: {
          enum: ['ntp', 'gps', 'rtc', 'host'],
          default: 'ntp',
          description:
            'ntp: chrony or systemd-timesyncd keeps time and the gateway checks its sync; gps: gpsd time (needs "gps"); rtc: a battery clock only (never counts as synchronised); host: the host keeps time (VMs, containers, the demo), synchronised only when the OS says so (chrony or timedatectl)',
        },
        assumeSynchronised: {
          type: 'boolean',
          default: false,
          description:
            'time.source "host" only: count the clock as synchronised when the OS cannot confirm it (a container whose host keeps time out of sight, tests, the demo). Every manifest then records "clock": {"assumed": true}, and recgw verify and recgw report count those segments',
        },
        maxOffsetMs: { type: 'integer', minimum: 1, maximum: 60000, default: 500, description: 'a larger estimated offset counts as not synchronised' },
        stepThresholdMs: { type: 'integer', minimum: 100, maximum: 3600000, default: 1000, description: 'a wall-clock jump larger than this is a clock step (ledger entry; during a session a clock-jump interruption)' },
        zone: {
          type: 'string',
          format: 'time-zone',
          default: 'Asia/Shanghai',
          description: "the installation's time zone (IANA name): every time people read (console, panel, the demo) is shown in it with the zone named; the ledger, manifests and JSON stay UTC",
        },
      },
      default: {},
    },
    control: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      properties: {
        socket: { ...path, 'x-restart': true, description: 'Unix socket for recgw session/status (default: <stateDir>/control.sock)' },
      },
      default: {},
    },
    gps: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      description: 'position (and optionally time) from gpsd',
      properties: {
        gpsd: { type: 'string', pattern: '^[^:]+:[0-9]{1,5}$', default: '127.0.0.1:2947', description: 'gpsd host:port' },
        fixTimeToleranceMs: {
          type: 'integer',
          minimum: 1000,
          maximum: 600000,
          default: 5000,
          description:
            'a fix whose time differs from the gateway clock by more than this (never less than time.maxOffsetMs) is not the position at the time: manifests get none, it is logged once per episode and shown in status. 5 s covers an NMEA receiver\'s reporting delay at 4800 baud (0.9-1.6 s for a cycle in gpsd\'s logs) and the clock\'s allowed offset',
        },
        homeBase: {
          type: 'object',
          additionalProperties: false,
          required: ['lat', 'lon', 'radiusM'],
          description: 'vehicles: the base; entering it counts as "returned" for upload deadlines',
          properties: {
            lat: { type: 'number', minimum: -90, maximum: 90 },
            lon: { type: 'number', minimum: -180, maximum: 180 },
            radiusM: { type: 'number', minimum: 10, maximum: 100000 },
          },
        },
      },
    },
    gpio: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      description: 'lamps, buzzer and trigger inputs, by BCM pin number (the driver finds the chip base, 512 on kernels 6.6+)',
      properties: {
        backend: { enum: ['sysfs', 'sim'], default: 'sysfs', 'x-restart': true, description: 'sim: no hardware (tests and demos)' },
        lamp: { type: 'integer', minimum: 0, maximum: 63, description: 'tally lamp outside the room: steady while recording, blinking while interrupted or faulty' },
        buzzer: { type: 'integer', minimum: 0, maximum: 63, description: 'sounds on faults' },
        inputs: {
          type: 'array',
          maxItems: 8,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['pin', 'name', 'action'],
            properties: {
              pin: { type: 'integer', minimum: 0, maximum: 63 },
              name: { enum: ['record-button', 'door', 'ignition', 'lightbar'] },
              action: { enum: ['toggle-session', 'start-session', 'stop-session', 'mark-event', 'none'] },
              activeLow: { type: 'boolean', default: false },
              debounceMs: { type: 'integer', minimum: 0, maximum: 2000, default: 50 },
            },
          },
          default: [],
        },
        session: {
          type: 'object',
          additionalProperties: false,
          required: ['matter', 'officers'],
          description: 'what a session started by an input is for (vehicles: the crew on duty)',
          properties: {
            matter: { type: 'string', minLength: 1 },
            officers: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^:]+:[^:]+$', description: '"name:执法证号"' } },
          },
        },
      },
    },
    serial: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      description: 'serial devices: the room control panel, PTZ cameras (VISCA), a UPS or battery monitor (or power.nut)',
      properties: {
        panel: { $ref: '#/$defs/serialPort' },
        ups: { $ref: '#/$defs/serialPort' },
        ptz: {
          type: 'array',
          maxItems: 4,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'source'],
            properties: {
              path: { type: 'string', minLength: 1 },
              baudRate: { type: 'integer', enum: [2400, 4800, 9600, 19200, 38400, 115200], default: 9600 },
              address: { type: 'integer', minimum: 1, maximum: 7, default: 1 },
              source: { type: 'string', description: 'the camera source this PTZ head carries' },
              preset: { type: 'integer', minimum: 0, maximum: 127, description: 'recalled when a session starts' },
            },
          },
        },
      },
    },
    power: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      description:
        'the UPS (serial.ups, or power.nut): when the power is about to go, recording stops with a low-battery interruption and what was recorded is sealed (docs/operations.md §19)',
      properties: {
        lowBatteryPercent: {
          type: 'integer',
          minimum: 0,
          maximum: 99,
          default: 10,
          description: 'on battery at or below this charge recording stops (besides the UPS\'s own LB); below recording.minBatteryPercent',
        },
        lowRuntimeSeconds: {
          type: 'integer',
          minimum: 0,
          maximum: 3600,
          default: 120,
          description: "on battery with the UPS's runtime estimate at or below this, likewise (NUT's own battery.runtime.low is usually 120)",
        },
        nut: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          description: 'a UPS served by Network UPS Tools (upsd, its network protocol); instead of serial.ups',
          properties: {
            host: { type: 'string', pattern: '^[A-Za-z0-9.:_-]{1,253}$', default: '127.0.0.1', description: 'where upsd listens' },
            port: { type: 'integer', minimum: 1, maximum: 65535, default: 3493 },
            name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: "the UPS's name in upsd (upsc -l HOST lists them)" },
            user: {
              type: 'string',
              pattern: '^[^\\s"\\\\]{1,64}$',
              description: 'a user of upsd.users with "upsmon secondary": the gateway logs in, so that a forced shutdown waits for it (needs password)',
            },
            password: { type: 'string', minLength: 1, maxLength: 128 },
            pollSeconds: { type: 'number', minimum: 0.5, maximum: 30, default: 2, description: 'how often the gateway asks upsd' },
          },
        },
      },
      default: {},
    },
    uplink: {
      type: 'object',
      additionalProperties: false,
      required: ['broker'],
      description: 'delivery to the agency receiver over MQTT with mutual TLS (docs/uplink-protocol.md)',
      properties: {
        broker: { type: 'string', pattern: '^(mqtts|mqtt|tls|tcp)://', 'x-restart': true, description: 'broker URL, e.g. mqtts://mqtt.agency.example:8883' },
        protocolVersion: { enum: [4, 5], default: 5, 'x-restart': true, description: '4 = MQTT 3.1.1, 5 = MQTT 5' },
        deadlineHours: { type: 'number', exclusiveMinimum: 0, maximum: 720, default: 24, description: 'upload deadline after a segment ends' },
        alarmHoursBefore: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, maxItems: 4, default: [6, 1] },
        retentionHours: { type: 'number', minimum: 0, default: 72, description: 'keep a receipted segment locally this long' },
        chunkKiB: { type: 'integer', minimum: 16, maximum: MAX_CHUNK_KIB, default: 1024, description: 'chunk size of segment uploads (resends after a break cost up to window x chunk)' },
        window: { type: 'integer', minimum: 1, maximum: 64, default: 16, 'x-restart': true, description: 'chunks in flight (capped by the broker Receive Maximum)' },
        maxBytesPerSecond: { type: 'integer', minimum: 1024, description: 'bandwidth cap for metered links' },
        answerTimeoutSeconds: { type: 'number', minimum: 0.5, maximum: 600, default: 15 },
        outOfCoverageMinutes: {
          type: 'number',
          minimum: 0,
          default: 30,
          description: 'vehicles: out of coverage this long counts as away; what it recorded meanwhile is due deadlineHours after the return',
        },
      },
    },
    console: {
      type: 'object',
      additionalProperties: false,
      'x-restart': true,
      description: 'the local web console for field technicians (docs/console.md); without this key the gateway serves none',
      properties: {
        listen: {
          type: 'string',
          pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+|[A-Za-z0-9.-]+):[0-9]{1,5}$',
          default: '0.0.0.0:8443',
          'x-restart': true,
          description: 'address:port to listen on ([::]:8443 for IPv6); every interface by default, but only addresses in allowFrom may connect',
        },
        allowFrom: {
          type: 'array',
          minItems: 1,
          maxItems: 32,
          items: { type: 'string', pattern: '^[0-9A-Fa-f:.]+/[0-9]{1,3}$' },
          default: ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'],
          'x-restart': true,
          description: 'networks (CIDR) allowed to connect; the default is loopback and the private and link-local ranges (LAN only)',
        },
        tls: {
          enum: ['device', 'self-signed'],
          default: 'device',
          'x-restart': true,
          description: 'device: serve the device certificate (falls back to self-signed before enrolment); self-signed: a local certificate in <stateDir>/console',
        },
        sessionMinutes: { type: 'integer', minimum: 5, maximum: 480, default: 30, 'x-restart': true, description: 'a console login ends after this long without a request' },
        language: { enum: ['zh-CN', 'en'], default: 'zh-CN', 'x-restart': true, description: 'the language a browser sees until it picks one' },
      },
    },
    recording: {
      type: 'object',
      additionalProperties: false,
      required: ['sources'],
      properties: {
        segmentSeconds: { type: 'integer', minimum: 2, maximum: 600, default: 10, 'x-restart': true },
        preEventSeconds: { type: 'integer', minimum: 0, maximum: 120, default: 0, 'x-restart': true },
        expectedSessionMinutes: { type: 'integer', minimum: 1, maximum: 1440, default: 120 },
        minBatteryPercent: { type: 'integer', minimum: 0, maximum: 100, default: 20 },
        announcement: { ...path, 'x-restart': true, description: 'audio file played at session start when the room has a speaker' },
        speakerDevice: { type: 'string', 'x-restart': true, description: 'ALSA device of the speaker, e.g. default or hw:0,0; also plays the tone that asks for the explanation after a resume' },
        storageQuotaMB: { type: 'integer', minimum: 1, 'x-restart': true, description: 'cap on local recording storage' },
        sources: { type: 'array', minItems: 1, maxItems: 8, items: source, 'x-restart': true },
        overlay: {
          type: 'object',
          additionalProperties: false,
          default: {},
          'x-restart': true,
          description: 'Beijing time, device ID and case reference burnt into the picture of cameras the gateway encodes (sim, v4l2)',
          properties: {
            enabled: { type: 'boolean', default: true },
            font: { ...path, default: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', description: 'a font with CJK and Latin glyphs (Debian: fonts-wqy-microhei)' },
          },
        },
        detectors,
        explanation,
      },
    },
  },
} as const;
