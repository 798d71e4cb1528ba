import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memGiB: number;
  /** 1/5/15-minute load averages when sampled; other engineers' work shares this machine. */
  loadAverage: number[];
}

export interface Versions {
  /** The Node that ran the benchmark (and the services the devstack spawns with process.execPath). */
  node: string;
  nodeExecPath?: string;
  /**
   * The Node first on PATH: the agent worker starts through tsx's `#!/usr/bin/env node`, so this is the agent's
   * (and its job processes') Node. Put the wanted Node first on PATH and both agree (bench/README.md).
   */
  agentNode?: string;
  livekitServer: string;
  livekitAgents: string;
  livekitRtcNode: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: loadAverage(),
  };
}

export function loadAverage(): number[] {
  return os.loadavg().map((n) => Math.round(n * 100) / 100);
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}node_modules/${name}/package.json`, 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

export function versions(livekitServerBinary: string | undefined): Versions {
  let livekitServer = 'unknown';
  if (livekitServerBinary) {
    try {
      livekitServer = execFileSync(livekitServerBinary, ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      livekitServer = livekitServerBinary.match(/v\d+\.\d+\.\d+/)?.[0] ?? 'unknown';
    }
  }
  let agentNode = 'unknown';
  try {
    agentNode = execFileSync('node', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // no node on PATH: the agent worker would not start either
  }
  return {
    node: process.version,
    // Home shown as ~: the result files are committed, and the user's home is this machine's business.
    nodeExecPath: process.execPath.replace(os.homedir(), '~'),
    agentNode,
    livekitServer,
    livekitAgents: packageVersion('@livekit/agents'),
    livekitRtcNode: packageVersion('@livekit/rtc-node'),
  };
}

/** HEAD, with "+dirty" when the work tree differs (others edit the same tree while benchmarks run). */
export function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}
