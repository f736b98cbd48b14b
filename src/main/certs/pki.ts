// A minimal PKI: a self-signed CA and certificates it issues, each usable as TLS server
// AND client certificate (a broker dials peers with its own server certificate).
// Used by the lab and by the broker's self-managed Secret mode.
//
// RSA keys come from Node's native crypto.generateKeyPair (OpenSSL, off the event loop);
// node-forge builds and signs the X.509 structures. forge would fall back to a pure
// JavaScript key generator (seconds per 2048-bit key) whenever it cannot detect Node's
// crypto, so we do not leave that choice to it.

import { X509Certificate, generateKeyPair, randomBytes, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CertificateList, RevokedCertificate, TBSCertList, Time } from '@peculiar/asn1-x509';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A CA's certificate and private key, both PEM. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

/** An issued certificate and its private key (PKCS#8), both PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface CaOptions {
  commonName: string;
  validDays: number;
  /** RSA modulus length in bits. Default 2048. */
  keyBits?: number;
  /** Clock; injectable for tests. */
  now?: () => Date;
  /** Source of the serial number's 16 random bytes; injectable for tests. */
  serialBytes?: () => Buffer;
}

export interface CertificateOptions {
  commonName: string;
  /** DNS subject alternative names; peers match these (or the CN) against endpoint hosts. */
  dnsNames: string[];
  validDays: number;
  /** RSA modulus length in bits. Default 2048. */
  keyBits?: number;
  /** Clock; injectable for tests. */
  now?: () => Date;
  /** Source of the serial number's 16 random bytes; injectable for tests. */
  serialBytes?: () => Buffer;
}

const DEFAULT_KEY_BITS = 2048;
/** notBefore is set this far in the past so a peer with a slightly slow clock accepts it. */
const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

interface KeyPair {
  keyPem: string;
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
}

async function generateRsaKeyPair(bits: number): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    keyPem: privateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
  };
}

/**
 * A positive serial number of 16 bytes in hex whose first byte is 0x40-0x7f.
 *
 * DER wants an INTEGER in its shortest form, and OpenSSL refuses a certificate whose serial
 * is not ("illegal padding"). forge strips at most one leading zero byte, so a serial that
 * began 00 00 (1 in 65536 of plain random bytes) made a certificate no peer could load.
 * Fixing bit 6 and clearing bit 7 keeps it positive and exactly 16 bytes long, with 126
 * random bits (RFC 5280 allows up to 20 bytes; CAs are asked for at least 64 random bits).
 */
export function serialHex(random: Buffer): string {
  if (random.length !== 16) throw new RangeError(`a serial needs 16 random bytes, got ${random.length}`);
  const bytes = Buffer.from(random);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function validityWindow(now: Date, validDays: number): { notBefore: Date; notAfter: Date } {
  if (!(validDays > 0)) throw new RangeError(`validDays must be > 0, got ${validDays}`);
  return {
    notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now.getTime() + validDays * DAY_MS),
  };
}

function newCertificate(publicKey: forge.pki.rsa.PublicKey, now: Date, validDays: number, serialBytes: () => Buffer = () => randomBytes(16)): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialHex(serialBytes());
  const { notBefore, notAfter } = validityWindow(now, validDays);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  return cert;
}

/** Creates a self-signed CA (RSA, SHA-256) that may only sign certificates. */
export async function createCa(options: CaOptions): Promise<CertificateAuthority> {
  const now = (options.now ?? (() => new Date()))();
  const keys = await generateRsaKeyPair(options.keyBits ?? DEFAULT_KEY_BITS);
  const cert = newCertificate(keys.publicKey, now, options.validDays, options.serialBytes);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/**
 * Issues a leaf certificate signed by `ca`, valid for TLS server and client authentication,
 * with `commonName` as CN and `dnsNames` as DNS SANs.
 */
export async function issueCertificate(ca: CertificateAuthority, options: CertificateOptions): Promise<IssuedCertificate> {
  let caCert: forge.pki.Certificate;
  let caKey: forge.pki.rsa.PrivateKey;
  try {
    caCert = forge.pki.certificateFromPem(ca.certPem);
    caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
  } catch (cause) {
    throw new Error('issueCertificate: CA certificate or key is not valid PEM', { cause });
  }
  const now = (options.now ?? (() => new Date()))();
  const keys = await generateRsaKeyPair(options.keyBits ?? DEFAULT_KEY_BITS);
  const cert = newCertificate(keys.publicKey, now, options.validDays, options.serialBytes);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: options.dnsNames.map((value) => ({ type: 2, value })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** The notAfter date of the first certificate in `pem`. */
export function certificateExpiry(pem: string): Date {
  try {
    return forge.pki.certificateFromPem(pem).validity.notAfter;
  } catch (cause) {
    throw new Error('certificateExpiry: not a PEM certificate', { cause });
  }
}

export interface CrlOptions {
  /** Serial numbers (hex) of the certificates to revoke; see certificateSerial. */
  revokedSerials: string[];
  /** Days until nextUpdate: past it, OpenSSL refuses every peer of this CA. */
  validDays: number;
  now?: () => Date;
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** Issues a CRL (v2, SHA-256 with RSA) signed by `ca`, as a PEM "X509 CRL" block. */
export function issueCrl(ca: CertificateAuthority, options: CrlOptions): string {
  const now = (options.now ?? (() => new Date()))();
  const caCert = AsnConvert.parse(new X509Certificate(ca.certPem).raw, Certificate);
  const algorithm = new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: null });
  const { notBefore, notAfter } = validityWindow(now, options.validDays);
  const tbsCertList = new TBSCertList({
    version: 1, // v2
    signature: algorithm,
    issuer: caCert.tbsCertificate.subject,
    thisUpdate: new Time(notBefore),
    nextUpdate: new Time(notAfter),
    revokedCertificates: options.revokedSerials.length === 0 ? undefined : options.revokedSerials.map((serial) => new RevokedCertificate({
      userCertificate: new Uint8Array(Buffer.from(serial.length % 2 ? `0${serial}` : serial, 'hex')).buffer,
      revocationDate: new Time(now),
    })),
  });
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbsCertList)), ca.keyPem);
  const crl = new CertificateList({ tbsCertList, signatureAlgorithm: algorithm, signature: new Uint8Array(signature).buffer });
  const base64 = Buffer.from(AsnConvert.serialize(crl)).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN X509 CRL-----\n${base64}-----END X509 CRL-----\n`;
}

/** The serial number (hex) of the first certificate in `pem`, as a CRL names it. */
export function certificateSerial(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}
