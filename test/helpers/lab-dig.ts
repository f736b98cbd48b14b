// dig (bind9-dnsutils) in a lab namespace, parsed: the DNS tests ask the way a pod's
// resolver does (its resolv.conf) or a given server.
import type { Lab } from '../../loadtest/lab/lab.js';

export interface Dig {
  status: string;
  flags: string[];
  /** The data of the records of the asked type, in order (A: the address; SRV: "priority weight port target."). */
  answers: string[];
  /** Every record line (answer, authority, additional sections): [name, type, data]. */
  records: [string, string, string][];
  queryMs: number;
  output: string;
}

/** dig in `ns` for `name` (type `type`) against `server` ("ip:port"; default: the namespace's resolv.conf). */
export async function dig(lab: Lab, ns: string, name: string, extra: string[] = [], server?: string, type = 'A'): Promise<Dig> {
  const argv = ['dig', ...(server ? [`@${server.split(':')[0]}`, '-p', server.split(':')[1] ?? '53'] : []), name, type, '+tries=1', '+time=5', ...extra];
  const { stdout } = await lab.exec(ns, argv, { timeoutMs: 20_000 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }));
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'no-reply';
  const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const records = stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .map((l) => /^(\S+)\s+\d+\s+IN\s+(\S+)\s+(.*)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!, m[3]!] as [string, string, string]);
  const answers = records.filter(([, t]) => t === type).map(([, , data]) => data);
  const queryMs = Number(/Query time: (\d+) msec/.exec(stdout)?.[1] ?? NaN);
  return { status, flags, answers, records, queryMs, output: stdout };
}
