import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate, certificateExpiry, serialHex, type CertificateAuthority, type IssuedCertificate } from '../../../src/main/certs/pki.js';

const FIXED_NOW = new Date('2030-01-02T03:04:05Z');

interface HandshakeResult {
  /** What the client read before the connection closed ('ok' when the server accepted it). */
  clientReceived: string;
  clientError?: Error;
  /** The server's reason for refusing the client certificate (socket.authorizationError). */
  serverRefusal?: string;
  serverPeerCn?: string;
}

/** Runs one mutually authenticated TLS handshake on 127.0.0.1 and reports both sides' view. */
async function handshake(
  serverTrust: CertificateAuthority,
  server: IssuedCertificate,
  clientTrust: CertificateAuthority,
  client: IssuedCertificate,
  serverName: string,
): Promise<HandshakeResult> {
  const result: HandshakeResult = { clientReceived: '' };
  const tlsServer = tls.createServer(
    // rejectUnauthorized: false so the test sees the verification verdict itself; the
    // server refuses exactly what rejectUnauthorized: true would refuse.
    { cert: server.certPem, key: server.keyPem, ca: serverTrust.certPem, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      if (!socket.authorized) {
        result.serverRefusal = String(socket.authorizationError);
        socket.destroy();
        return;
      }
      result.serverPeerCn = String(socket.getPeerCertificate().subject?.CN);
      socket.end('ok');
    },
  );
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const { port } = tlsServer.address() as AddressInfo;
  try {
    await new Promise<void>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: serverName,
        cert: client.certPem,
        key: client.keyPem,
        ca: clientTrust.certPem,
        minVersion: 'TLSv1.2',
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        result.clientReceived += chunk;
      });
      socket.on('error', (err) => {
        result.clientError = err;
      });
      socket.on('close', () => resolve());
    });
    return result;
  } finally {
    tlsServer.close();
  }
}

test('issued certificates authenticate a TLS server and a TLS client of the same CA to each other', async () => {
  const ca = await createCa({ commonName: 'test-ca', validDays: 2 });
  const server = await issueCertificate(ca, { commonName: 'broker.c1.kubelink.lab', dnsNames: ['broker.c1.kubelink.lab'], validDays: 1 });
  const client = await issueCertificate(ca, { commonName: 'broker.c2.kubelink.lab', dnsNames: ['broker.c2.kubelink.lab'], validDays: 1 });
  const result = await handshake(ca, server, ca, client, 'broker.c1.kubelink.lab');
  assert.equal(result.clientError, undefined);
  assert.equal(result.serverRefusal, undefined);
  assert.equal(result.clientReceived, 'ok');
  assert.equal(result.serverPeerCn, 'broker.c2.kubelink.lab');
});

test('a server rejects a client certificate issued by another CA', async () => {
  const ca = await createCa({ commonName: 'test-ca', validDays: 2 });
  const otherCa = await createCa({ commonName: 'other-ca', validDays: 2 });
  const server = await issueCertificate(ca, { commonName: 'broker.c1.kubelink.lab', dnsNames: ['broker.c1.kubelink.lab'], validDays: 1 });
  const stranger = await issueCertificate(otherCa, { commonName: 'broker.c2.kubelink.lab', dnsNames: ['broker.c2.kubelink.lab'], validDays: 1 });
  const result = await handshake(ca, server, ca, stranger, 'broker.c1.kubelink.lab');
  assert.equal(result.clientReceived, '');
  assert.equal(result.serverPeerCn, undefined);
  assert.equal(result.serverRefusal, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('a client rejects a server certificate issued by another CA', async () => {
  const ca = await createCa({ commonName: 'test-ca', validDays: 2 });
  const otherCa = await createCa({ commonName: 'other-ca', validDays: 2 });
  const impostor = await issueCertificate(otherCa, { commonName: 'broker.c1.kubelink.lab', dnsNames: ['broker.c1.kubelink.lab'], validDays: 1 });
  const client = await issueCertificate(ca, { commonName: 'broker.c2.kubelink.lab', dnsNames: ['broker.c2.kubelink.lab'], validDays: 1 });
  const result = await handshake(otherCa, impostor, ca, client, 'broker.c1.kubelink.lab');
  assert.match(String(result.clientError?.message), /certificate/i);
  assert.equal(result.clientReceived, '');
});

test('an issued certificate carries CN, DNS SANs, server+client usage and the requested validity', async () => {
  const ca = await createCa({ commonName: 'test-ca', validDays: 10, now: () => FIXED_NOW });
  const issued = await issueCertificate(ca, {
    commonName: 'broker.c3.kubelink.lab',
    dnsNames: ['broker.c3.kubelink.lab', 'alt.kubelink.lab'],
    validDays: 3,
    now: () => FIXED_NOW,
  });
  const x509 = new X509Certificate(issued.certPem);
  assert.equal(x509.subject, 'CN=broker.c3.kubelink.lab');
  assert.equal(x509.issuer, 'CN=test-ca');
  assert.equal(x509.subjectAltName, 'DNS:broker.c3.kubelink.lab, DNS:alt.kubelink.lab');
  assert.deepEqual([...(x509.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(x509.ca, false);
  assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(x509.verify(new X509Certificate(ca.certPem).publicKey));
  assert.equal(new X509Certificate(ca.certPem).ca, true);
  assert.equal(certificateExpiry(issued.certPem).getTime(), FIXED_NOW.getTime() + 3 * 24 * 3600 * 1000);
});

test('certificateExpiry names the problem when given something that is not a certificate', () => {
  assert.throws(() => certificateExpiry('not a pem'), /not a PEM certificate/);
});

// CI once failed on a CA whose random serial began 00 00: forge strips one zero byte, and
// OpenSSL refuses the rest of the padding ("illegal padding"), so nothing could load it.
test('a serial from any random bytes, even leading zeros, gives certificates OpenSSL loads', async () => {
  for (const fill of [0x00, 0x80, 0xff]) {
    const serialBytes = (): Buffer => Buffer.alloc(16, fill);
    const ca = await createCa({ commonName: 'zero-serial-ca', validDays: 10, serialBytes });
    const issued = await issueCertificate(ca, { commonName: 'leaf', dnsNames: ['leaf'], validDays: 1, serialBytes });
    for (const pem of [ca.certPem, issued.certPem]) {
      const serial = new X509Certificate(pem).serialNumber;
      assert.equal(serial.length, 32, `16 bytes, no padding: ${serial}`);
      assert.ok(parseInt(serial.slice(0, 2), 16) >= 0x40 && parseInt(serial.slice(0, 2), 16) < 0x80, `positive, first byte set: ${serial}`);
    }
  }
  assert.throws(() => serialHex(Buffer.alloc(15)), /16 random bytes, got 15/);
});
