// iperf3 clients run from lab pods against the echo pods' `iperf3 -s`, with the JSON result
// reduced to the figures the bench and the load tests report.

import { CommandError } from './command.js';
import type { LabContext } from './lab-context.js';
import type { LabPod } from './topology.js';

export interface IperfOptions {
  /** Target port. Default 5201 (the lab's iperf3 server). */
  port?: number;
  durationSec: number;
  /** Parallel streams (-P). Default 1. */
  streams?: number;
  /** Server sends, client receives (-R). */
  reverse?: boolean;
  /** UDP instead of TCP (-u); give `bitrate` with it. */
  udp?: boolean;
  /** Target bitrate, iperf3 syntax (e.g. '1G'). */
  bitrate?: string;
  /** Bytes per write (-l): the UDP datagram size. Default iperf3's. */
  lengthBytes?: number;
  /** Default 5000 ms. */
  connectTimeoutMs?: number;
}

export interface IperfResult {
  /** Receiver-side throughput (what arrived), bits per second. */
  bitsPerSecond: number;
  /** Sender-side throughput, bits per second. */
  sentBitsPerSecond: number;
  /** TCP retransmits reported by the sender (0 for UDP). */
  retransmits: number;
  /** UDP only: lost datagrams in percent. */
  lostPercent?: number;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_sent?: { bits_per_second?: number; retransmits?: number };
    sum_received?: { bits_per_second?: number; lost_percent?: number };
    sum?: { bits_per_second?: number; lost_percent?: number };
  };
}

/** The argv of an iperf3 client for `options` (JSON output). */
export function iperfClientArgs(targetIp: string, options: IperfOptions): string[] {
  const argv = ['iperf3', '-c', targetIp, '-p', String(options.port ?? 5201), '-t', String(options.durationSec), '-P', String(options.streams ?? 1), '-J'];
  argv.push('--connect-timeout', String(options.connectTimeoutMs ?? 5000));
  if (options.reverse) argv.push('-R');
  if (options.udp) argv.push('-u');
  if (options.bitrate) argv.push('-b', options.bitrate);
  if (options.lengthBytes !== undefined) argv.push('-l', String(options.lengthBytes));
  return argv;
}

/** Reduces iperf3's JSON to an IperfResult; throws with iperf3's own error text when it failed. */
export function parseIperfJson(text: string): IperfResult {
  let json: IperfJson;
  try {
    json = JSON.parse(text) as IperfJson;
  } catch (cause) {
    throw new Error(`iperf3 output is not JSON: ${text.slice(0, 200)}`, { cause });
  }
  if (json.error) throw new Error(`iperf3: ${json.error}`);
  const end = json.end ?? {};
  if (end.sum_received?.bits_per_second !== undefined) {
    // UDP results carry the receiver's loss (iperf3 3.12 puts it in sum_received and sum).
    const lostPercent = end.sum_received.lost_percent ?? end.sum?.lost_percent;
    return {
      bitsPerSecond: end.sum_received.bits_per_second,
      sentBitsPerSecond: end.sum_sent?.bits_per_second ?? end.sum_received.bits_per_second,
      retransmits: end.sum_sent?.retransmits ?? 0,
      ...(lostPercent !== undefined ? { lostPercent } : {}),
    };
  }
  if (end.sum?.bits_per_second !== undefined) {
    return { bitsPerSecond: end.sum.bits_per_second, sentBitsPerSecond: end.sum.bits_per_second, retransmits: 0, lostPercent: end.sum.lost_percent };
  }
  throw new Error('iperf3 JSON has no end.sum_received or end.sum');
}

/** Runs one iperf3 client in `pod` against `targetIp` (e.g. a remote service IP). */
export async function runIperf(lab: LabContext, pod: LabPod, targetIp: string, options: IperfOptions): Promise<IperfResult> {
  const argv = iperfClientArgs(targetIp, options);
  lab.log.debug('lab: iperf3', { ns: pod.ns, argv });
  const timeoutMs = (options.durationSec + 30) * 1000;
  // iperf3 exits non-zero on failure but still prints JSON with "error": prefer that text.
  const stdout = await lab.exec(pod.ns, argv, { timeoutMs }).then(
    (r) => r.stdout,
    (error: unknown) => {
      if (error instanceof CommandError && error.stdout.trim().startsWith('{')) return error.stdout;
      throw error;
    },
  );
  return parseIperfJson(stdout);
}
