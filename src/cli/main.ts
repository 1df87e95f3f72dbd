/**
 * The `recgw` program. Exit status: 0 success, 1 the thing checked is not valid, 2 usage or configuration error.
 * Every error a user sees is one message that names the problem and the fix; stack traces go to the log only.
 */
import { RecgwError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { processIo, type Io } from './io.js';
import { caCommand } from './ca.js';
import { enrolCommand } from './enrol.js';
import { verifyCommand } from './verify.js';
import { reportCommand } from './report.js';
import { exportCommand } from './export.js';
import { decryptCommand } from './decrypt.js';
import { configCommand } from './config.js';
import { demoCommand } from './demo.js';
import { runCommand } from './run.js';
import { receiverCommand } from './receiver.js';
import { sessionCommand, statusCommand } from './session.js';
import { consoleCommand } from './console.js';
import { witnessCommand } from './witness.js';

type Command = (argv: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  ca: { run: caCommand, help: 'ca init|sign|server-cert|receiver-cert   a demo/test agency CA' },
  enrol: { run: enrolCommand, help: 'enrol csr|install|show     device key, CSR and certificate' },
  verify: { run: verifyCommand, help: 'verify <dir> --ca ca.pem   prove a store or export is complete and unaltered' },
  report: { run: reportCommand, help: 'report <store> [--json] [--ca ca.pem]  sessions, hours, interruptions, upload timeliness' },
  export: { run: exportCommand, help: 'export --config F --out D  write the ledger and sealed segments as a device folder' },
  decrypt: { run: decryptCommand, help: 'decrypt <dir> <segment>    agency only: decrypt one sealed segment' },
  config: { run: configCommand, help: 'config check --config F    validate an installation config' },
  run: { run: runCommand, help: 'run --config F              run the gateway in the foreground' },
  receiver: { run: receiverCommand, help: 'receiver --config F         run the agency receiver in the foreground' },
  session: { run: sessionCommand, help: 'session start|pause|resume|stop|statement   act on the running gateway' },
  status: { run: statusCommand, help: 'status --config F [--json]  the running gateway\'s state' },
  console: { run: consoleCommand, help: 'console reset-password --config F [--user NAME]  a one-time code for a lost console password' },
  witness: { run: witnessCommand, help: 'witness init|trust|serve|show  a supervisor\'s witness of the agency log' },
  demo: { run: demoCommand, help: 'demo [--seconds N] [--out DIR] [--broker URL]  run a complete simulated installation' },
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
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof RecgwError) {
      io.err(`recgw ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`recgw ${name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
