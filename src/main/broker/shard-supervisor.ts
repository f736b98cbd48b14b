// Runs the shard workers: a piscina pool of N threads, each running one long-lived shard
// task that talks to this thread over its own MessagePort. Assigns connections to the
// least loaded shard and replaces a shard whose worker died.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../../shared/log.js';
import { sleep, systemClock, type Clock } from '../../shared/clock.js';
import type { MainToShard, ShardInit, ShardLink, ShardToMain } from '../../shared/shard-protocol.js';

/** How long stop() waits for the shard tasks to end before destroying the pool. */
const STOP_WAIT_MS = 5000;

/** Who the shards work for (the TunnelManager): it gets their messages and knows the links. */
export interface ShardOwner {
  /** The links a shard starts with (also a shard restarted after its worker died). */
  shardLinks(): ShardLink[];
  onShardMessage(shard: number, msg: ShardToMain): void;
  /** The shard's worker died; its connections are gone. It is restarted right after. */
  onShardLost(shard: number, error: unknown): void;
}

/** Everything in ShardInit except what the supervisor supplies per start (port, links). */
export type ShardInitTemplate = Omit<ShardInit, 'port' | 'links'>;

export class ShardSupervisor {
  private readonly pool: Piscina;
  private readonly ports: (MessagePort | undefined)[];
  /** Connections currently assigned to each shard. */
  private readonly load: number[];
  private stopping = false;
  private readonly runs: Promise<unknown>[] = [];

  constructor(
    private readonly shardCount: number,
    private readonly initFor: (shard: number) => ShardInitTemplate,
    private readonly log: Logger,
    /** The shard worker module; replaceable for tests of the supervision itself. */
    workerFile: URL = new URL('../../workers/shard.js', import.meta.url),
    private readonly clock: Clock = systemClock,
  ) {
    this.pool = new Piscina({
      filename: workerFile.href,
      minThreads: shardCount,
      maxThreads: shardCount,
      idleTimeout: Infinity,
      // A shard task lives as long as the broker; 'sync' would freeze a worker whose task
      // resolved in Atomics.wait together with its sockets (docs/architecture.md, "Known facts").
      atomics: 'disabled',
      concurrentTasksPerWorker: 1,
    });
    this.ports = new Array(shardCount).fill(undefined);
    this.load = new Array(shardCount).fill(0);
  }

  /** Starts every shard; from now on `owner` gets their messages. */
  start(owner: ShardOwner): void {
    for (let shard = 0; shard < this.shardCount; shard++) this.startShard(shard, owner);
  }

  private startShard(shard: number, owner: ShardOwner): void {
    const { port1, port2 } = new MessageChannel();
    this.ports[shard] = port1;
    this.load[shard] = 0;
    port1.on('message', (msg: ShardToMain) => owner.onShardMessage(shard, msg));
    const init: ShardInit = { ...this.initFor(shard), links: owner.shardLinks(), port: port2 };
    // No AbortSignal: aborting a piscina task kills the whole worker.
    const run = this.pool.run(init, { transferList: [port2] }).then(
      () => this.log.debug('shard stopped', { shard }),
      (err: unknown) => {
        port1.close();
        this.ports[shard] = undefined;
        if (this.stopping) return;
        this.log.error('shard worker died; restarting it', { shard, err });
        owner.onShardLost(shard, err);
        this.startShard(shard, owner);
      },
    );
    this.runs.push(run);
  }

  send(shard: number, msg: MainToShard): void {
    this.ports[shard]?.postMessage(msg);
  }

  broadcast(msg: MainToShard): void {
    for (let shard = 0; shard < this.shardCount; shard++) this.send(shard, msg);
  }

  /** Picks the shard with the fewest connections and counts one more on it. */
  assign(): number {
    let best = 0;
    for (let shard = 1; shard < this.shardCount; shard++) if (this.load[shard]! < this.load[best]!) best = shard;
    this.load[best]!++;
    return best;
  }

  release(shard: number): void {
    if (this.load[shard]! > 0) this.load[shard]!--;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.broadcast({ type: 'stop' });
    // Bounded: a shard stuck in a handshake must not hold up the broker's exit.
    await Promise.race([Promise.allSettled(this.runs), sleep(this.clock, STOP_WAIT_MS)]);
    await this.pool.destroy();
  }
}
