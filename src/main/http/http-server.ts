// The broker's and router's HTTP endpoint (--server-port-http): /healthz (the process and
// its threads work), /readyz (it can carry traffic: e.g. the leader with its data path up),
// /metrics (Prometheus text format).
import http from 'node:http';
import { once } from 'node:events';
import type { Logger } from '../../shared/log.js';

export interface Probe {
  ok: boolean;
  detail: string;
}

export interface HttpEndpoints {
  healthz(): Probe;
  readyz(): Probe;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export class HttpServer {
  private readonly server: http.Server;

  constructor(endpoints: HttpEndpoints, private readonly log: Logger) {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const probe = (p: Probe) => {
        res.writeHead(p.ok ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(p.detail + '\n');
      };
      if (path === '/healthz') return probe(endpoints.healthz());
      if (path === '/readyz') return probe(endpoints.readyz());
      if (path === '/metrics') {
        endpoints.metrics().then(
          (m) => {
            res.writeHead(200, { 'content-type': m.contentType });
            res.end(m.body);
          },
          (err: unknown) => {
            this.log.error('metrics collection failed', { err });
            res.writeHead(500).end();
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
  }

  async listen(port: number, host?: string): Promise<number> {
    this.server.listen({ port, host });
    await once(this.server, 'listening');
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
