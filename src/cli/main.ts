/**
 * The `recgw` program. Exit status: 0 success, 1 the thing checked is not valid, 2 usage or configuration error.
 * Every error a user sees is one message that names the problem and the fix; stack traces go to the log only.
 */
import { RecgwError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { processIo, type Io } from './io.js';

type Command = (argv: string[], io: Io) => Promise<number>;

/**
 * Each command's module is loaded only when it runs: a command pays for its own dependencies alone (`recgw verify`
 * on a small store would otherwise mostly spend its second of start-up loading the receiver, the gateway, MQTT and
 * the console), and `recgw run` and `recgw receiver` can refuse a second instance before the service's modules load
 * (app/state-lock.ts).
 */
const COMMANDS: Record<string, { load: () => Promise<Command>; help: string }> = {
  ca: { load: async () => (await import('./ca.js')).caCommand, help: 'ca init|sign|server-cert|receiver-cert   a demo/test agency CA' },
  enrol: { load: async () => (await import('./enrol.js')).enrolCommand, help: 'enrol csr|install|show     device key, CSR and certificate' },
  verify: { load: async () => (await import('./verify.js')).verifyCommand, help: 'verify <dir> --ca ca.pem   prove a store or export is complete and unaltered' },
  report: { load: async () => (await import('./report.js')).reportCommand, help: 'report <store> [--json] [--ca ca.pem] [--units units.json]  sessions, hours, interruptions, upload timeliness, alerts' },
  reconcile: {
    load: async () => (await import('./reconcile.js')).reconcileCommand,
    help: 'reconcile <store> --session ID --start T --end T  recordings against the times in the paper record',
  },
  index: {
    load: async () => (await import('./agency-index.js')).indexCommand,
    help: 'index rebuild|migrate --database URL  the agency index (PostgreSQL or SQLite) made from a store, for the evidence desk',
  },
  desk: {
    load: async () => (await import('./desk.js')).deskCommand,
    help: 'desk --config F | desk account add NAME --role R --config F | desk audit-check --config F  the evidence desk (HTTPS) over the agency index',
  },
  retention: {
    load: async () => (await import('./retention.js')).retentionCommand,
    help: 'retention list --desk-config F | retention apply --config receiver.json --desk-config F  the expiry list; carry out the deletions leaders approved',
  },
  export: { load: async () => (await import('./export.js')).exportCommand, help: 'export --config F --out D  write the ledger and sealed segments as a device folder' },
  package: {
    load: async () => (await import('./package.js')).packageCommand,
    help: 'package build --store D --session ID --extractor N --reason R --agency-key K --ca C --out D --desk-config F --approval ID --as NAME  agency only: the evidence disc (two identical ISO images), under an approved export (registered)',
  },
  decrypt: { load: async () => (await import('./decrypt.js')).decryptCommand, help: 'decrypt <dir> <segment>    agency only: decrypt one sealed segment, under an approved viewing request (registered)' },
  config: { load: async () => (await import('./config.js')).configCommand, help: 'config check --config F    validate a gateway\'s or a receiver\'s config' },
  run: { load: async () => (await import('./run.js')).runCommand, help: 'run --config F              run the gateway in the foreground' },
  receiver: { load: async () => (await import('./receiver.js')).receiverCommand, help: 'receiver --config F         run the agency receiver in the foreground' },
  session: { load: async () => (await import('./session.js')).sessionCommand, help: 'session start|pause|resume|stop|statement|credentials   act on the running gateway' },
  status: { load: async () => (await import('./session.js')).statusCommand, help: 'status --config F [--json]  the running gateway\'s state' },
  console: { load: async () => (await import('./console.js')).consoleCommand, help: 'console reset-password --config F [--user NAME]  a one-time code for a lost console password' },
  witness: { load: async () => (await import('./witness.js')).witnessCommand, help: 'witness init|trust|serve|show  a supervisor\'s witness of the agency log' },
  demo: { load: async () => (await import('./demo.js')).demoCommand, help: 'demo [--seconds N] [--out DIR] [--broker URL]  run a complete simulated installation' },
};

function usage(): string {
  return `recgw ${VERSION} - recorder gateway for whole-process enforcement recording\n\nusage: recgw <command> [options]\n\n${Object.values(COMMANDS)
    .map((c) => `  ${c.help}`)
    .join('\n')}\n\nRun recgw <command> --help for a command's options.\n`;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`recgw: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${cmd.help}\n`);
    return 0;
  }
  try {
    const run = await cmd.load();
    return await run(rest, io);
  } catch (err) {
    if (err instanceof RecgwError) {
      io.err(`recgw ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`recgw ${name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
