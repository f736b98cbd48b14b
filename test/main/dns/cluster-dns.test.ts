import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conventionalClusterDns, effectiveClusterDns } from '../../../src/main/dns/cluster-dns.js';
import { parseIpv4 } from '../../../src/shared/cidr.js';

const CIDR = { network: parseIpv4('100.64.16.0')!, prefixLength: 20 };

test('the conventional cluster DNS is the service CIDR base + 10 in cluster.local', () => {
  assert.deepEqual(conventionalClusterDns(CIDR), { dnsIp: parseIpv4('100.64.16.10'), domain: 'cluster.local' });
});

test("spec.dns wins over the peer's announcement, which wins over the convention, field by field", () => {
  const announced = { dnsIp: parseIpv4('100.64.16.53')!, domain: 'c2.local' };
  assert.deepEqual(effectiveClusterDns({ omitPropagation: false }, undefined, CIDR), conventionalClusterDns(CIDR));
  assert.deepEqual(effectiveClusterDns({ omitPropagation: false }, announced, CIDR), announced);
  assert.deepEqual(effectiveClusterDns({ dnsIp: parseIpv4('100.64.16.11'), omitPropagation: false }, announced, CIDR), { dnsIp: parseIpv4('100.64.16.11'), domain: 'c2.local' });
  assert.deepEqual(effectiveClusterDns({ baseDomain: 'x.example', omitPropagation: false }, undefined, CIDR), { dnsIp: parseIpv4('100.64.16.10'), domain: 'x.example' });
});

test('a link without spec.cidr has a cluster DNS only when the spec or the peer names its IP', () => {
  assert.equal(effectiveClusterDns({ omitPropagation: false }, undefined, undefined), undefined);
  assert.deepEqual(effectiveClusterDns({ omitPropagation: false }, { dnsIp: 7, domain: 'c3.local' }, undefined), { dnsIp: 7, domain: 'c3.local' });
  assert.deepEqual(effectiveClusterDns({ dnsIp: 9, omitPropagation: false }, undefined, undefined), { dnsIp: 9, domain: 'cluster.local' });
});
