#!/usr/bin/env node
// The demo entry point (./demo.sh runs it after installing dependencies):
//   node dist/loadtest/demo.js [--keep] [--workers W] [--iperf SEC] [--timeout SEC]
// the same as `node dist/loadtest/cli.js demo`.

import { runToolMain } from './tool/entry.js';
import { DEMO_USAGE, parseDemoArgs, runDemo } from './tool/demo-command.js';
import { Progress } from './tool/progress.js';

runToolMain(async (argv) => {
  const progress = new Progress();
  if (argv.includes('--help') || argv.includes('-h')) {
    progress.print(DEMO_USAGE);
    return 0;
  }
  return runDemo(parseDemoArgs(argv), progress);
}, process.argv.slice(2));
