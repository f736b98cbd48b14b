// The command line of `kubelink status`: its own small flag table, parsed purely; a bad
// flag is a usage error (exit 2) naming the flag and the value.
import { parseArgs } from 'node:util';

export type OutputFormat = 'table' | 'json';

export interface StatusOptions {
  help: boolean;
  /** --kubeconfig; absent: in-cluster, $KUBECONFIG, ~/.kube/config (loadKubeConfig). */
  kubeconfig?: string;
  watch: boolean;
  output: OutputFormat;
}

export class StatusUsageError extends Error {
  override name = 'StatusUsageError';
}

export const STATUS_HELP = `Usage: kubelink status [--kubeconfig PATH] [--watch] [-o table|json]

Prints every KubeLink of the cluster: state, message, gateway, round-trip time, bytes
received from and sent to the peer, and how long ago the state last changed. RTT and bytes
are what the leading broker last wrote into the KubeLink's status (every
--status-stats-interval, default 60 s); STATS tells how old they are.

Flags:
  --kubeconfig PATH   kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config; in a pod its service account)
  -w, --watch         print again whenever a KubeLink changes, until interrupted
  -o, --output FMT    table (default) or json (with --watch: one JSON document per line)
  -h, --help          print this help and exit

Exit status: 0 when every KubeLink is Up (and there is at least one), 1 otherwise or when the
API server cannot be read, 2 on a usage error.
`;

export function parseStatusOptions(argv: string[]): StatusOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        watch: { type: 'boolean', short: 'w' },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs names the flag; keep its first line.
    throw new StatusUsageError(String((err as Error).message).split('\n')[0]);
  }
  const { values } = parsed;
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new StatusUsageError(`--output "${output}": expected table or json`);
  if (values.kubeconfig !== undefined && values.kubeconfig.trim() === '') throw new StatusUsageError('--kubeconfig "": expected a file path');
  return { help: values.help ?? false, kubeconfig: values.kubeconfig, watch: values.watch ?? false, output };
}
