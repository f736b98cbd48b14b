// `kubelink`: parses the flags, starts the selected controllers, and stops them cleanly on
// SIGTERM/SIGINT. A bad flag exits 2 with one line naming the flag and the value.
// `kubelink status ...` is the operators' view of the mesh (src/main/status/).
import { FlagError, helpText, parseFlags, type Config } from './flags.js';
import { createLogger, type Logger } from '../shared/log.js';
import { Broker } from './broker/broker.js';

interface Controller {
  stop(): Promise<void>;
}

async function startControllers(config: Config, log: Logger): Promise<Controller[]> {
  const started: Controller[] = [];
  if (config.controllers.includes('broker')) {
    const broker = new Broker(config, log.child({ controller: 'broker' }));
    await broker.start();
    started.push(broker);
  }
  if (config.controllers.includes('router')) {
    const { Router } = await import('./router/router.js');
    const router = new Router(config, log.child({ controller: 'router' }));
    await router.start();
    started.push(router);
  }
  return started;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'status') {
    const { runStatus } = await import('./status/status-command.js');
    return runStatus(argv.slice(1), {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      now: () => new Date(),
      interrupted: new Promise((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      }),
    });
  }
  let config: Config;
  try {
    config = parseFlags(argv);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`kubelink: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const log = createLogger({ level: config.logLevel });
  let controllers: Controller[];
  try {
    controllers = await startControllers(config, log);
  } catch (err) {
    log.error('start failed', { err });
    return 1;
  }
  log.info('started', { controllers: config.controllers, pid: process.pid });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('stopping', { signal });
  const deadline = setTimeout(() => {
    log.error('clean shutdown took too long; exiting');
    process.exit(1);
  }, 15_000);
  deadline.unref();
  for (const c of controllers.reverse()) {
    await c.stop().catch((err: unknown) => log.error('stop failed', { err }));
  }
  log.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kubelink: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
