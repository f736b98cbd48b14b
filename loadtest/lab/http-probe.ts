// One HTTP GET from inside a lab namespace (run under `ip netns exec`): prints the body and
// exits 0 on a 2xx answer, else prints the reason to stderr and exits 1. The lab ships its
// own probe so it needs neither curl nor wget in the namespaces.
//
//   node http-probe.js <url> [timeoutMs]

import http from 'node:http';

function main(): void {
  const [url, timeoutText] = process.argv.slice(2);
  if (!url) {
    process.stderr.write('http-probe: usage: http-probe.js <url> [timeoutMs]\n');
    process.exit(2);
  }
  const timeoutMs = Number(timeoutText ?? 3000);
  const req = http.get(url, { timeout: timeoutMs }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => {
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
      (ok ? process.stdout : process.stderr).write(ok ? body : `http-probe: HTTP ${res.statusCode}: ${body}\n`);
      process.exit(ok ? 0 : 1);
    });
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on('error', (error) => {
    process.stderr.write(`http-probe: ${url}: ${error.message}\n`);
    process.exit(1);
  });
}

main();
