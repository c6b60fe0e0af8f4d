import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { PROJECT_ROOT } from './processes.js';

export interface MachineDescription {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** The commit measured, with "+ uncommitted changes" when the tree differs from it. */
  readonly commit: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  readonly loadAverage: number;
}

export function describeMachine(): MachineDescription {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    commit: describeCommit(),
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

function describeCommit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain') === '' ? head : `${head} + uncommitted changes`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
