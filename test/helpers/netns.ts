/**
 * A second host for tests of what crosses a network (WS-Discovery multicast): a network namespace of the test's
 * own, joined to this host by a veth pair on a /30 of its own. Nothing leaves the machine. Needs root (CI is).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface TestHost {
  ns: string;
  /** This side's interface (the one to probe on) and address; the namespace's address. */
  hostIf: string;
  /** The namespace's side of the veth pair: set it down and the host is gone from the network, as a dead one is. */
  peerIf: string;
  hostAddr: string;
  peerAddr: string;
  /** Start a program in the namespace; resolves with its first line of output. */
  start(cmd: string, args: string[]): Promise<{ child: ChildProcess; line: string }>;
  stop(): void;
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function testHost(tag: string): TestHost {
  const id = process.pid % 10000;
  const ns = `recgw-${tag}-${id}`;
  const hostIf = `rg${tag.slice(0, 3)}h${id}`;
  const peerIf = `rg${tag.slice(0, 3)}p${id}`;
  const net = `10.231.${id % 250}`;
  const hostAddr = `${net}.1`;
  const peerAddr = `${net}.2`;
  // Left over by a killed run with the same pid: start clean.
  try {
    ip('link', 'del', hostIf);
  } catch {
    /* not there */
  }
  try {
    ip('netns', 'del', ns);
  } catch {
    /* not there */
  }
  ip('netns', 'add', ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf);
  ip('link', 'set', peerIf, 'netns', ns);
  ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('-n', ns, 'addr', 'add', `${peerAddr}/30`, 'dev', peerIf);
  ip('-n', ns, 'link', 'set', peerIf, 'up');
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  const children: ChildProcess[] = [];
  return {
    ns,
    hostIf,
    peerIf,
    hostAddr,
    peerAddr,
    start(cmd, args) {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      return new Promise((resolve, reject) => {
        const rl = createInterface({ input: child.stdout! });
        rl.once('line', (line) => resolve({ child, line }));
        child.once('exit', (code) => reject(new Error(`${cmd} in ${ns} exited with ${code} before it was ready`)));
      });
    },
    stop() {
      for (const c of children) c.kill('SIGTERM');
      try {
        ip('link', 'del', hostIf);
      } catch {
        /* gone with the namespace */
      }
      ip('netns', 'del', ns);
    },
  };
}
