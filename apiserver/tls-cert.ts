// A throwaway CA and serving certificate for --tls. Keys come from node:crypto (fast,
// native); node-forge builds and signs the certificates.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { serialHex } from '../src/main/certs/pki.js';

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  caPem: string;
}

function rsaKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), pem };
}

type Name = forge.pki.CertificateField[];

function unsignedCertificate(publicKey: forge.pki.rsa.PublicKey, subject: Name, issuer: Name, notBefore: Date, notAfter: Date): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialHex(randomBytes(16));
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  return cert;
}

/** A CA and a certificate for `hosts` (IPs and DNS names) signed by it, valid from an hour before `now` for a year. */
export function createServingCertificate(hosts: string[], now: Date = new Date()): ServingCertificate {
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + 365 * 24 * 3600_000);
  const caName: Name = [{ name: 'commonName', value: 'kubelink-test-apiserver-ca' }];

  const caKeys = rsaKeyPair();
  const ca = unsignedCertificate(caKeys.publicKey, caName, caName, notBefore, notAfter);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const leafKeys = rsaKeyPair();
  const leaf = unsignedCertificate(leafKeys.publicKey, [{ name: 'commonName', value: 'kubelink-test-apiserver' }], caName, notBefore, notAfter);
  const altNames = [...new Set(hosts)].map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  leaf.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  leaf.sign(caKeys.privateKey, forge.md.sha256.create());

  return { certPem: forge.pki.certificateToPem(leaf), keyPem: leafKeys.pem, caPem: forge.pki.certificateToPem(ca) };
}
