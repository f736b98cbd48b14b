// The machine a measurement ran on, in one line for result files: CPU count and model,
// kernel, Node and the versions of the peers measured against (iperf3, OpenVPN).

import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

async function toolVersion(argv: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1));
    return pattern.exec(stdout + stderr)?.[1] ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** e.g. `nproc 2, CPU AMD EPYC, kernel 6.1.0, Node v20.20.2, iperf3 3.12, OpenVPN 2.6.14`. */
export async function describeMachine(): Promise<string> {
  const cpus = os.cpus();
  const [iperf, openvpn] = await Promise.all([
    toolVersion(['iperf3', '--version'], /iperf (\S+)/),
    toolVersion(['openvpn', '--version'], /OpenVPN (\S+)/),
  ]);
  return [
    `nproc ${os.availableParallelism()}`,
    `CPU ${cpus[0]?.model.trim() ?? 'unknown'}`,
    `kernel ${os.release()}`,
    `Node ${process.version}`,
    `iperf3 ${iperf}`,
    `OpenVPN ${openvpn}`,
  ].join(', ');
}

