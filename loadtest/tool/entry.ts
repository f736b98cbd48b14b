// How the lab tool's entry points end: the command's exit code, usage errors exit 2 with
// their message, anything else exits 1 with the error and its causes on one line.

import { describeError } from '../lab/error-text.js';
import { UsageError } from './options.js';

export function runToolMain(entry: (argv: string[]) => Promise<number>, argv: string[]): void {
  entry(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const usage = error instanceof UsageError || ((error as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS');
      process.stderr.write(`kubelink-lab: ${describeError(error)}\n`);
      process.exit(usage ? 2 : 1);
    },
  );
}
