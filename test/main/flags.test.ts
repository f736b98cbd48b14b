import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CONFIG_DEFAULTS, FlagError, MAX_WORKERS, flagNames, helpText, parseFlags } from '../../src/main/flags.js';
import { parseIpv4 } from '../../src/shared/cidr.js';
import { DEFAULT_BROKER_TIMINGS, dataPlaneSettings } from '../../src/main/broker/broker.js';

const BROKER = ['--controllers=broker', '--link-address', '192.168.0.11/24', '--service-cidr=100.64.0.0/20', '--certfile', 'c.pem', '--keyfile', 'k.pem', '--cacertfile', 'ca.pem'];

function flagError(argv: string[]): FlagError {
  try {
    parseFlags(argv, {});
  } catch (err) {
    assert.ok(err instanceof FlagError, `expected FlagError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `message must be one line: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${argv.join(' ')} to be rejected`);
}

test('a complete broker command line yields a typed config with defaults filled in', () => {
  const c = parseFlags(BROKER, {});
  assert.deepEqual(c.controllers, ['broker']);
  assert.deepEqual(c.linkAddress, { address: parseIpv4('192.168.0.11'), prefixLength: 24 });
  assert.deepEqual(c.meshCidr, { network: parseIpv4('192.168.0.0'), prefixLength: 24 });
  assert.deepEqual(c.serviceCidr, { network: parseIpv4('100.64.0.0'), prefixLength: 20 });
  assert.equal(c.brokerPort, CONFIG_DEFAULTS.brokerPort);
  assert.equal(c.serverPortHttp, 8080);
  assert.equal(c.ifceName, 'kubelink');
  assert.equal(c.mtu, 1500);
  assert.equal(c.servedLinks, 'all');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.secretManageMode, 'none');
  assert.equal(c.namespace, 'kube-system');
  assert.ok(c.workers >= 1 && c.workers <= MAX_WORKERS);
  assert.equal(c.help, false);
});

test('--flag value and --flag=value are equivalent', () => {
  const a = parseFlags([...BROKER, '--mtu', '9000', '--workers', '3', '--served-links', 'a,b'], {});
  const b = parseFlags([...BROKER, '--mtu=9000', '--workers=3', '--served-links=a,b'], {});
  assert.deepEqual(a, b);
  assert.equal(a.mtu, 9000);
  assert.equal(a.workers, 3);
  assert.deepEqual(a.servedLinks, ['a', 'b']);
});

test('all optional flags are parsed into their typed fields', () => {
  const c = parseFlags([
    '--controllers=broker,router', '--link-address=192.168.0.12/24', '--service-cidr=100.64.16.0/20',
    '--node-cidr=10.250.0.0/24', '--pod-cidr=100.96.0.0/11', '--node-ip=10.250.0.2', '--broker-port=9443',
    '--server-port-http=0', '--ifce-name=kl0', '--secret=tls', '--links=/tmp/x', '--kubeconfig=/k',
    '--log-level=debug', '--lease-name=l', '--namespace=ns1', '--dns-name=Broker.C2.example.',
  ], {});
  assert.deepEqual(c.controllers, ['broker', 'router']);
  assert.deepEqual(c.nodeCidr, { network: parseIpv4('10.250.0.0'), prefixLength: 24 });
  assert.deepEqual(c.podCidr, { network: parseIpv4('100.96.0.0'), prefixLength: 11 });
  assert.equal(c.nodeIp, parseIpv4('10.250.0.2'));
  assert.equal(c.brokerPort, 9443);
  assert.equal(c.serverPortHttp, 0);
  assert.equal(c.ifceName, 'kl0');
  assert.equal(c.secret, 'tls');
  assert.equal(c.links, '/tmp/x');
  assert.equal(c.kubeconfig, '/k');
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.leaseName, 'l');
  assert.equal(c.namespace, 'ns1');
  assert.equal(c.dnsName, 'broker.c2.example', 'dns-name is normalized: lower case, no root dot');
});

test('namespace defaults to $POD_NAMESPACE when set', () => {
  assert.equal(parseFlags(BROKER, { POD_NAMESPACE: 'kubelink' }).namespace, 'kubelink');
});

test('--help returns help without requiring other flags, and -h is its short form', () => {
  assert.equal(parseFlags(['--help'], {}).help, true);
  assert.equal(parseFlags(['-h'], {}).help, true);
});

test('a network address as --link-address names the flag, the value and the expectation', () => {
  assert.equal(
    flagError([...BROKER.slice(0, 1), '--link-address', '192.168.0.0/24', ...BROKER.slice(3)]).message,
    '--link-address "192.168.0.0/24": is the network address, not a host address (expected a cluster address with mesh prefix, e.g. 192.168.0.11/24)',
  );
});

test('unknown flags and positional arguments are rejected in one line', () => {
  assert.equal(flagError([...BROKER, '--bogus=1']).message, '--bogus: unknown flag (see --help for the list)');
  assert.match(flagError([...BROKER, 'extra']).message, /"extra": unexpected argument/);
});

test('a flag without its value is rejected, also when followed by another flag', () => {
  assert.match(flagError([...BROKER, '--mtu']).message, /^--mtu: value missing/);
  assert.match(flagError(['--controllers=broker', '--link-address', '--service-cidr=100.64.0.0/20']).message, /^--link-address: value missing/);
});

test('a repeated flag is rejected rather than silently overridden', () => {
  assert.match(flagError([...BROKER, '--mtu=1400', '--mtu=1500']).message, /^--mtu "1500": given more than once/);
});

test('CIDRs that do not parse are rejected with the reason', () => {
  const base = BROKER.filter((a) => !a.startsWith('--service-cidr'));
  assert.match(flagError([...base, '--service-cidr=100.64.0.1/20']).message, /^--service-cidr "100.64.0.1\/20": host bits set \(did you mean 100.64.0.0\/20\?\) \(expected a network CIDR/);
  assert.match(flagError([...base, '--service-cidr=100.64.0.0']).message, /^--service-cidr "100.64.0.0": expected an IPv4 CIDR/);
  assert.match(flagError([...base, '--service-cidr=300.64.0.0/20']).message, /^--service-cidr "300.64.0.0\/20": /);
  assert.match(flagError([...BROKER, '--node-cidr=10.0.0.0/33']).message, /^--node-cidr "10.0.0.0\/33": /);
  assert.match(flagError([...BROKER, '--pod-cidr=fe80::/64']).message, /^--pod-cidr "fe80::\/64": /);
});

test('--controllers is required and accepts only broker and router', () => {
  assert.match(flagError(['--link-address=192.168.0.11/24']).message, /^--controllers: missing/);
  assert.equal(
    flagError(['--controllers=broker,gateway']).message,
    '--controllers "broker,gateway": has unknown controller "gateway" (expected a comma list of broker|router)',
  );
  assert.match(flagError(['--controllers=broker,']).message, /has an empty entry/);
});

test('the broker requires --link-address and --service-cidr; the router does not', () => {
  assert.match(flagError(['--controllers=broker', '--secret=s']).message, /^--link-address: missing, required by the broker/);
  assert.match(flagError(['--controllers=broker', '--secret=s', '--link-address=192.168.0.11/24']).message, /^--service-cidr: missing/);
  assert.deepEqual(parseFlags(['--controllers=router'], {}).controllers, ['router']);
});

test('--certfile and --keyfile must come together, and the broker needs a CA with them', () => {
  const base = ['--controllers=broker', '--link-address=192.168.0.11/24', '--service-cidr=100.64.0.0/20'];
  assert.match(flagError([...base, '--certfile=c']).message, /^--keyfile: missing, required together with --certfile/);
  assert.match(flagError([...base, '--keyfile=k']).message, /^--certfile: missing, required together with --keyfile/);
  assert.match(flagError([...base, '--certfile=c', '--keyfile=k']).message, /^--cacertfile: missing/);
  assert.match(flagError([...base, '--cacertfile=ca']).message, /^--certfile: missing, required together with --cacertfile/);
});

test('a broker needs certificate files or a Secret unless it manages its own Secret', () => {
  const base = ['--controllers=broker', '--link-address=192.168.0.11/24', '--service-cidr=100.64.0.0/20'];
  assert.match(flagError(base).message, /^--certfile: missing: the broker needs/);
  assert.equal(parseFlags([...base, '--secret=tls'], {}).secret, 'tls');
  const self = parseFlags([...base, '--secret-manage-mode=self', '--dns-name=broker.c1.kubelink.lab'], {});
  assert.equal(self.secretManageMode, 'self');
  assert.equal(self.secret, 'kubelink-broker');
  assert.match(flagError([...base, '--secret-manage-mode=self']).message, /^--dns-name: missing, required by --secret-manage-mode self/);
  assert.match(flagError([...base, '--secret-manage-mode=auto']).message, /^--secret-manage-mode "auto": is not a known mode \(expected none or self\)/);
  assert.match(flagError([...BROKER, '--secret=tls']).message, /^--secret "tls": cannot be combined with --certfile/);
});

test('--workers must be a positive integer up to the cap', () => {
  assert.match(flagError([...BROKER, '--workers=0']).message, /^--workers "0": is out of range \(expected an integer 1\.\.64\)/);
  assert.match(flagError([...BROKER, '--workers=65']).message, /out of range/);
  assert.match(flagError([...BROKER, '--workers=2.5']).message, /^--workers "2.5": is not an integer/);
  assert.match(flagError([...BROKER, '--workers=-1']).message, /^--workers/);
  assert.equal(parseFlags([...BROKER, '--workers=64'], {}).workers, 64);
});

test('ports must be 0..65535 where 0 is allowed, 1..65535 otherwise', () => {
  assert.match(flagError([...BROKER, '--broker-port=0']).message, /^--broker-port "0": is not a port number \(expected an integer 1\.\.65535\)/);
  assert.match(flagError([...BROKER, '--broker-port=65536']).message, /^--broker-port "65536"/);
  assert.match(flagError([...BROKER, '--server-port-http=http']).message, /^--server-port-http "http": is not a port number \(expected an integer 0\.\.65535\)/);
  assert.equal(parseFlags([...BROKER, '--broker-port=65535'], {}).brokerPort, 65535);
});

test('--log-level, --mtu, --served-links and --ifce-name are checked', () => {
  assert.match(flagError([...BROKER, '--log-level=trace']).message, /^--log-level "trace": is not a log level \(expected debug, info, warn or error\)/);
  assert.match(flagError([...BROKER, '--mtu=575']).message, /^--mtu "575": is out of range \(expected an integer 576\.\.65535\)/);
  assert.equal(parseFlags([...BROKER, '--mtu=576'], {}).mtu, 576);
  assert.match(flagError([...BROKER, '--mtu=65536']).message, /^--mtu/);
  assert.match(flagError([...BROKER, '--served-links=a,,b']).message, /^--served-links "a,,b": has an empty entry/);
  assert.match(flagError([...BROKER, '--served-links=A_b']).message, /invalid link name "A_b"/);
  assert.match(flagError([...BROKER, '--ifce-name=much-too-long-name']).message, /^--ifce-name "much-too-long-name": is not a valid interface name/);
});

test('--tun-offload is on by default and takes true or false', () => {
  assert.equal(parseFlags(BROKER, {}).tunOffload, true);
  assert.equal(parseFlags([...BROKER, '--tun-offload=false'], {}).tunOffload, false);
  assert.equal(parseFlags([...BROKER, '--tun-offload', 'true'], {}).tunOffload, true);
  assert.equal(flagError([...BROKER, '--tun-offload=no']).message, '--tun-offload "no": is not a boolean (expected true or false)');
});

test('--tls-ciphers defaults to AES-128-GCM first and accepts only TLS 1.3 suites OpenSSL knows', () => {
  assert.equal(parseFlags(BROKER, {}).tlsCiphers, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256');
  assert.equal(parseFlags([...BROKER, '--tls-ciphers=tls_chacha20_poly1305_sha256'], {}).tlsCiphers, 'TLS_CHACHA20_POLY1305_SHA256');
  assert.match(flagError([...BROKER, '--tls-ciphers=TLS_AES_128_GCM_SHA256:RC4-MD5']).message,
    /^--tls-ciphers "TLS_AES_128_GCM_SHA256:RC4-MD5": names no TLS 1\.3 cipher suite this OpenSSL knows: "RC4-MD5" \(expected a colon list of .*TLS_AES_128_GCM_SHA256/);
  assert.match(flagError([...BROKER, '--tls-ciphers=']).message, /^--tls-ciphers "": names no TLS 1\.3 cipher suite/);
});

test('--tunnel-queue and --ring-bytes bound the queues, the ring a power of two', () => {
  const defaults = parseFlags(BROKER, {});
  assert.equal(defaults.tunnelQueueBytes, 4 * 1024 * 1024);
  assert.equal(defaults.ringBytes, 4 * 1024 * 1024);
  assert.equal(parseFlags([...BROKER, '--tunnel-queue=1000000', '--ring-bytes=1048576'], {}).ringBytes, 1048576);
  assert.match(flagError([...BROKER, '--tunnel-queue=1000']).message, /^--tunnel-queue "1000": is out of range \(expected an integer 131072\.\.67108864\)/);
  assert.equal(flagError([...BROKER, '--ring-bytes=1000000']).message, '--ring-bytes "1000000": is not a power of two (expected a power of two 262144..268435456)');
  assert.match(flagError([...BROKER, '--ring-bytes=65536']).message, /^--ring-bytes "65536": is out of range/);
});

test('--queue-delay-target and --queue-delay-interval set CoDel per tunnel: off (0) by default, interval 100 ms', () => {
  const defaults = parseFlags(BROKER, {});
  assert.equal(defaults.queueDelayTargetMs, 0);
  assert.equal(defaults.queueDelayIntervalMs, 100);
  assert.equal(parseFlags([...BROKER, '--queue-delay-target=5'], {}).queueDelayTargetMs, 5);
  const tuned = parseFlags([...BROKER, '--queue-delay-target=2', '--queue-delay-interval=20'], {});
  assert.deepEqual([tuned.queueDelayTargetMs, tuned.queueDelayIntervalMs], [2, 20]);
  assert.equal(flagError([...BROKER, '--queue-delay-target=50', '--queue-delay-interval=20']).message,
    '--queue-delay-target "50": is longer than --queue-delay-interval (20) (expected 0..20 ms)');
  assert.match(flagError([...BROKER, '--queue-delay-interval=0']).message, /^--queue-delay-interval "0": is out of range \(expected an integer 1\.\.10000\)/);
  assert.match(flagError([...BROKER, '--queue-delay-target=-1']).message, /^--queue-delay-target "-1"/);
});

test('a mesh network overlapping the service, node or pod network is rejected', () => {
  assert.match(
    flagError([...BROKER, '--node-cidr=192.168.0.0/16']).message,
    /^--link-address "192.168.0.11\/24": mesh network 192.168.0.0\/24 overlaps --node-cidr 192.168.0.0\/16/,
  );
});

test('every pair of mesh, service, node and pod networks is checked; a contradiction names both flags', () => {
  // BROKER has mesh 192.168.0.0/24 (--link-address) and --service-cidr 100.64.0.0/20.
  const cases: [string[], RegExp][] = [
    [['--node-cidr=192.168.0.0/16'], /^--link-address "192.168.0.11\/24": mesh network 192.168.0.0\/24 overlaps --node-cidr 192.168.0.0\/16 \(lies inside it\)/],
    [['--pod-cidr=192.168.0.128/25'], /^--link-address "192.168.0.11\/24": mesh network 192.168.0.0\/24 overlaps --pod-cidr 192.168.0.128\/25 \(contains it\)/],
    [['--pod-cidr=100.64.0.0/11'], /^--service-cidr "100.64.0.0\/20": overlaps --pod-cidr 100.64.0.0\/11 \(lies inside it\)/],
    [['--node-cidr=100.64.8.0/24'], /^--service-cidr "100.64.0.0\/20": overlaps --node-cidr 100.64.8.0\/24 \(contains it\)/],
    [['--node-cidr=100.64.0.0/20'], /^--service-cidr "100.64.0.0\/20": overlaps --node-cidr 100.64.0.0\/20 \(is the same network as it\)/],
    [['--node-cidr=10.250.0.0/16', '--pod-cidr=10.0.0.0/8'], /^--node-cidr "10.250.0.0\/16": overlaps --pod-cidr 10.0.0.0\/8 \(lies inside it\) \(expected a pod network disjoint from the node network or inside it\)/],
    [['--node-ip=192.168.0.11'], /^--node-ip "192.168.0.11": lies inside --link-address 192.168.0.11\/24 \(the mesh network 192.168.0.0\/24\)/],
    [['--node-ip=100.64.0.9'], /^--node-ip "100.64.0.9": lies inside --service-cidr 100.64.0.0\/20/],
  ];
  for (const [extra, expected] of cases) {
    const err = flagError([...BROKER, ...extra]);
    assert.match(err.message, expected, extra.join(' '));
  }
  // The router alone has no --link-address: its networks are still checked.
  assert.match(flagError(['--controllers=router', '--node-cidr=10.250.0.0/16', '--service-cidr=10.250.0.0/20']).message, /^--service-cidr "10.250.0.0\/20": overlaps --node-cidr 10.250.0.0\/16/);
});

test('a pod network inside or equal to the node network (VPC-style CNIs) is accepted', () => {
  assert.ok(parseFlags([...BROKER, '--node-cidr=10.250.0.0/16', '--pod-cidr=10.250.128.0/17'], {}));
  assert.ok(parseFlags([...BROKER, '--node-cidr=10.250.0.0/16', '--pod-cidr=10.250.0.0/16', '--node-ip=10.250.0.2'], {}));
  assert.ok(parseFlags([...BROKER, '--node-cidr=10.250.0.0/16', '--pod-cidr=100.96.0.0/11', '--node-ip=10.250.0.2'], {}));
});

test('kubelink exits 2 with one line naming both flags when --service-cidr overlaps --pod-cidr', () => {
  const cli = fileURLToPath(new URL('../../src/main/cli.js', import.meta.url));
  const run = spawnSync(process.execPath, [cli, ...BROKER, '--pod-cidr=100.64.0.0/16'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stderr, 'kubelink: --service-cidr "100.64.0.0/20": overlaps --pod-cidr 100.64.0.0/16 (lies inside it) (expected --service-cidr and --pod-cidr to be disjoint networks)\n');
});

test('--node-ip outside --node-cidr is rejected', () => {
  assert.match(flagError([...BROKER, '--node-cidr=10.250.0.0/24', '--node-ip=10.251.0.2']).message, /^--node-ip "10.251.0.2": is outside --node-cidr 10.250.0.0\/24/);
});

test('--help lists every flag with its description and defaults, generated from the parser table', () => {
  const help = helpText();
  for (const name of flagNames()) assert.match(help, new RegExp(`^  --${name}\\b`, 'm'), `help lists --${name}`);
  assert.match(help, /--broker-port PORT +TLS port the broker listens on for peers \(default: 8088\)/);
  assert.match(help, /--mtu BYTES .*\(default: 1500\)/);
  assert.match(help, /--served-links LIST .*\(default: all\)/);
  assert.match(help, /--workers N .*\(default: available parallelism\)/);
  // every flag the parser accepts appears in help: feed each one to the parser.
  for (const name of flagNames()) {
    try {
      parseFlags([`--${name}${name === 'help' ? '' : '=x'}`], {});
    } catch (err) {
      assert.ok(!/unknown flag/.test((err as Error).message), `--${name} is accepted by the parser`);
    }
  }
});

test('the DNS identity flags: --mesh-domain defaults to kubelink, --dns-port to 8053 (0 disables), --cluster-name is optional', () => {
  const c = parseFlags(BROKER, {});
  assert.equal(c.meshDomain, 'kubelink');
  assert.equal(c.dnsPort, 8053);
  assert.equal(c.clusterName, undefined);
  const set = parseFlags([...BROKER, '--cluster-name=c1', '--mesh-domain=Mesh.Example.', '--dns-port=0'], {});
  assert.equal(set.clusterName, 'c1');
  assert.equal(set.meshDomain, 'mesh.example', 'mesh domain is normalized: lower case, no root dot');
  assert.equal(set.dnsPort, 0);
});

test('bad DNS identity flags name the flag and the value', () => {
  assert.equal(flagError([...BROKER, '--cluster-name=C1']).message, '--cluster-name "C1": is not a DNS label (expected 1..63 lower-case letters, digits and "-", e.g. c1)');
  assert.match(flagError([...BROKER, '--cluster-name=c1.east']).message, /^--cluster-name "c1\.east": is not a DNS label/);
  assert.match(flagError([...BROKER, '--mesh-domain=bad_domain']).message, /^--mesh-domain "bad_domain": is not a DNS name/);
  assert.match(flagError([...BROKER, '--mesh-domain=']).message, /^--mesh-domain "": is not a DNS name/);
  assert.match(flagError([...BROKER, '--dns-port=65536']).message, /^--dns-port "65536": is not a port number \(expected an integer 0\.\.65535\)/);
  assert.match(flagError([...BROKER, '--dns-port=dns']).message, /^--dns-port "dns"/);
});

test("this cluster's DNS: --cluster-dns-ip defaults to the service CIDR base + 10 and --cluster-domain to cluster.local; both reach the data plane settings", () => {
  const c = parseFlags(BROKER, {});
  assert.equal(c.clusterDnsIp, undefined);
  assert.equal(c.clusterDomain, 'cluster.local');
  assert.deepEqual(dataPlaneSettings(c, DEFAULT_BROKER_TIMINGS).clusterDns, { dnsIp: parseIpv4('100.64.0.10'), domain: 'cluster.local' });
  const set = parseFlags([...BROKER, '--cluster-dns-ip=100.64.15.254', '--cluster-domain=Corp.Example.'], {});
  assert.equal(set.clusterDnsIp, parseIpv4('100.64.15.254'));
  assert.equal(set.clusterDomain, 'corp.example', 'normalized like --mesh-domain');
  assert.deepEqual(dataPlaneSettings(set, DEFAULT_BROKER_TIMINGS).clusterDns, { dnsIp: parseIpv4('100.64.15.254'), domain: 'corp.example' });
});

test('a bad --cluster-dns-ip or --cluster-domain names the flag and the value, and says why an address outside --service-cidr cannot work', () => {
  assert.equal(flagError([...BROKER, '--cluster-dns-ip=100.64.0.300']).message, '--cluster-dns-ip "100.64.0.300": is not an IPv4 address (expected the ClusterIP of the cluster DNS Service, e.g. 100.64.0.10)');
  assert.equal(
    flagError([...BROKER, '--cluster-dns-ip=169.254.20.10']).message,
    '--cluster-dns-ip "169.254.20.10": is outside --service-cidr 100.64.0.0/20: peers reach this cluster\'s DNS only through their route to its service network, and the inbound check admits nothing else (expected the ClusterIP of the cluster DNS Service, inside --service-cidr)',
  );
  assert.match(flagError([...BROKER, '--cluster-dns-ip=100.64.16.10']).message, /^--cluster-dns-ip "100\.64\.16\.10": is outside --service-cidr 100\.64\.0\.0\/20/, 'just past the end');
  assert.match(flagError([...BROKER, '--cluster-dns-ip=100.64.0.0']).message, /^--cluster-dns-ip "100\.64\.0\.0": is the network address of --service-cidr 100\.64\.0\.0\/20, which no Service gets/);
  assert.match(flagError([...BROKER, '--cluster-dns-ip=100.64.15.255']).message, /^--cluster-dns-ip "100\.64\.15\.255": is the broadcast address of --service-cidr/);
  assert.ok(parseFlags([...BROKER, '--cluster-dns-ip=100.64.0.1'], {}), 'the first and last Service addresses are fine');
  assert.match(flagError([...BROKER, '--cluster-domain=cluster_local']).message, /^--cluster-domain "cluster_local": is not a DNS name \(expected a DNS name, e.g\. cluster\.local\)/);
  assert.match(flagError([...BROKER, '--cluster-domain=']).message, /^--cluster-domain "": is not a DNS name/);
  const long = Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.'); // 251 bytes: the most the hello carries
  assert.equal(parseFlags([...BROKER, `--cluster-domain=${long}`], {}).clusterDomain, long);
  assert.match(flagError([...BROKER, `--cluster-domain=${long}a`]).message, /^--cluster-domain "a+\..*": is longer than 251 bytes/);
});

test('kubelink exits 2 with one line naming --cluster-dns-ip and its value when it lies outside --service-cidr', () => {
  const cli = fileURLToPath(new URL('../../src/main/cli.js', import.meta.url));
  const run = spawnSync(process.execPath, [cli, ...BROKER, '--cluster-dns-ip', '10.96.0.10'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /^kubelink: --cluster-dns-ip "10\.96\.0\.10": is outside --service-cidr 100\.64\.0\.0\/20: .*\n$/);
});
