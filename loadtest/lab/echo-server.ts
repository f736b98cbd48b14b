// The lab's echo service: a tiny HTTP server run in each cluster's echo pod. It answers
// every request with one JSON line naming its cluster and the client address it saw, so a
// test can tell which cluster answered and whether the request was SNATed on the way.
//
//   node echo-server.js --cluster c2 [--port 80] [--host 0.0.0.0]

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The body the echo server sends (one JSON line). */
export interface EchoReply {
  cluster: string;
  client: string;
  clientPort: number;
  method: string;
  path: string;
}

export function startEchoServer(cluster: string, port: number, host: string): http.Server {
  const server = http.createServer((req, res) => {
    const reply: EchoReply = {
      cluster,
      client: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      clientPort: req.socket.remotePort ?? 0,
      method: req.method ?? '',
      path: req.url ?? '',
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply) + '\n');
  });
  server.listen(port, host);
  return server;
}

function main(): void {
  const { values } = parseArgs({
    options: { cluster: { type: 'string' }, port: { type: 'string', default: '80' }, host: { type: 'string', default: '0.0.0.0' } },
  });
  if (!values.cluster) {
    process.stderr.write('echo-server: --cluster is required\n');
    process.exit(2);
  }
  const server = startEchoServer(values.cluster, Number(values.port), values.host!);
  server.on('listening', () => process.stdout.write(`echo-server: cluster ${values.cluster} listening on ${values.host}:${values.port}\n`));
  server.on('error', (error) => {
    process.stderr.write(`echo-server: ${error.message}\n`);
    process.exit(1);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
