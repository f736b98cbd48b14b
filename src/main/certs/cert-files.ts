// Certificate, key and CA from files (--certfile/--keyfile/--cacertfile, and the CA's CRLs
// from --crl-file), validated and watched. A new set is delivered only when all three parse, the key belongs to the
// certificate and the certificate chains to the CA; anything else is logged and the
// previous set stays in use, so a half-written rotation never breaks the broker.
//
// Change detection: FileWatch (src/shared/file-watch.ts) on the directories holding the
// files, with a periodic stat of the files (through symlinks: inode, size, mtime) as the
// fallback poll.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ParseResult } from '../../shared/parse-result.js';
import type { TlsMaterial } from '../../shared/shard-protocol.js';
import { certificateIdentities } from '../../shared/cert-identity.js';
import { parseRevocations } from '../../shared/crl.js';
import { FileWatch } from '../../shared/file-watch.js';
import { StateLog } from '../../shared/state-log.js';
import type { Clock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/log.js';
import type { Logger } from '../../shared/log.js';

/** PEM texts: the certificate (leaf first, optional intermediates), its key, and the CA bundle. */
export type CertificateSet = TlsMaterial;

export interface CertificateInfo {
  /** CN and SANs of the leaf certificate (see certificateIdentities). */
  identities: string[];
  notAfter: Date;
}

export interface CertFilesOptions {
  certFile: string;
  keyFile: string;
  /** Required; optional in the type only because --cacertfile is optional for the router. */
  caFile?: string;
  /** PEM X509 CRLs (--crl-file); optional. */
  crlFile?: string;
  logger?: Logger;
  /** Fallback stat period for when fs.watch misses a change. */
  pollIntervalMs?: number;
  /** Quiet time after a change before reading (writers update the files one by one). */
  debounceMs?: number;
  /** Use fs.watch; false leaves only the periodic stat (tests, odd file systems). */
  useFsWatch?: boolean;
  /** Runs the poll period and the debounce. Default systemClock. */
  clock?: Clock;
}

export const CERT_FILES_DEFAULTS = {
  pollIntervalMs: 2_000,
  debounceMs: 200,
  useFsWatch: true,
} satisfies Partial<CertFilesOptions>;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function pemCertificates(text: string, what: string): X509Certificate[] {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(`${what}: certificate ${i} does not parse`, { cause: err });
    }
  });
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Checks a set: certificate and key parse, the key belongs to the leaf, each chain
 * member is signed by the next, and the last is signed by (or is) a CA in the bundle.
 */
export function validateCertificateSet(set: CertificateSet): ParseResult<CertificateInfo> {
  try {
    const chain = pemCertificates(set.cert, 'certificate');
    const cas = pemCertificates(set.ca, 'CA bundle');
    let key;
    try {
      key = createPrivateKey(set.key);
    } catch (err) {
      throw new Error('private key does not parse', { cause: err });
    }
    const leaf = chain[0]!;
    if (!leaf.checkPrivateKey(key)) throw new Error(`private key does not belong to certificate ${leaf.subject.replace(/\n/g, ', ')}`);
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!issuedBy(chain[i]!, chain[i + 1]!)) throw new Error(`certificate ${i} is not signed by certificate ${i + 1} of the chain`);
    }
    const top = chain[chain.length - 1]!;
    if (!cas.some((ca) => top.fingerprint256 === ca.fingerprint256 || issuedBy(top, ca))) {
      throw new Error(`certificate (issuer ${top.issuer.replace(/\n/g, ', ')}) is not signed by the CA bundle`);
    }
    if (set.crl !== undefined) {
      const revocations = parseRevocations(set.crl, set.ca);
      if (!revocations.ok) throw new Error(`CRL ${revocations.reason}`);
    }
    return { ok: true, value: { identities: certificateIdentities(leaf), notAfter: new Date(Date.parse(leaf.validTo)) } };
  } catch (err) {
    const e = err as Error;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return { ok: false, reason: `${e.message}${cause}` };
  }
}

interface CertPaths {
  certFile: string;
  keyFile: string;
  caFile: string;
  crlFile?: string;
}

function certPaths(options: CertFilesOptions): CertPaths {
  if (!options.caFile) throw new Error(`a CA file is required with ${options.certFile} to verify peers (--cacertfile)`);
  return { certFile: options.certFile, keyFile: options.keyFile, caFile: options.caFile, crlFile: options.crlFile };
}

async function readSet(options: CertPaths): Promise<CertificateSet> {
  const [cert, key, ca, crl] = await Promise.all([
    readFile(options.certFile, 'utf8'),
    readFile(options.keyFile, 'utf8'),
    readFile(options.caFile, 'utf8'),
    options.crlFile === undefined ? undefined : readFile(options.crlFile, 'utf8'),
  ]);
  return crl === undefined ? { cert, key, ca } : { cert, key, ca, crl };
}

/** Loads and validates the files once; throws naming the problem. */
export async function loadCertificateFiles(paths: CertFilesOptions): Promise<{ set: CertificateSet; info: CertificateInfo }> {
  const options = certPaths(paths);
  let set: CertificateSet;
  try {
    set = await readSet(options);
  } catch (err) {
    throw new Error(`reading certificate files failed (${options.certFile}, ${options.keyFile}, ${options.caFile})`, { cause: err });
  }
  const checked = validateCertificateSet(set);
  if (!checked.ok) throw new Error(`certificate files ${options.certFile}, ${options.keyFile}, ${options.caFile}: ${checked.reason}`);
  return { set, info: checked.value };
}

function sameSet(a: CertificateSet, b: CertificateSet): boolean {
  return a.cert === b.cert && a.key === b.key && a.ca === b.ca && a.crl === b.crl;
}

/** A TlsSource (see sources.ts) backed by --certfile/--keyfile/--cacertfile. */
export class CertFilesTlsSource {
  private readonly options: Required<Omit<CertFilesOptions, 'logger' | 'caFile' | 'crlFile' | 'clock'>> & { caFile?: string; crlFile?: string };
  private readonly log: Logger;
  private readonly watch: FileWatch;
  private currentSet?: CertificateSet;
  private onChange?: (set: CertificateSet, info: CertificateInfo) => void;
  private fingerprint = '';
  /** The outage and the bad content last logged, so a poll that sees them again stays quiet. */
  private readonly logged = new StateLog<'unreadable' | 'rejected'>();
  private stopped = false;

  constructor(options: CertFilesOptions) {
    this.options = { ...CERT_FILES_DEFAULTS, ...options };
    this.log = (options.logger ?? silentLogger).child({ component: 'cert-files' });
    this.watch = new FileWatch({
      check: () => this.checkOnce(),
      directories: async () => [...new Set(this.files().map((f) => path.dirname(path.resolve(f))))].map((dir) => ({ dir })),
      changed: async () => (await this.statFingerprint()) !== this.fingerprint,
      pollIntervalMs: this.options.pollIntervalMs,
      debounceMs: this.options.debounceMs,
      useFsWatch: this.options.useFsWatch,
      log: this.log,
      clock: options.clock,
    });
  }

  /**
   * Loads the files (throws if they are missing or invalid) and returns them; later valid
   * changes are passed to `onChange` (not the initial set).
   */
  async start(onChange: (set: CertificateSet, info: CertificateInfo) => void): Promise<CertificateSet> {
    const { set, info } = await loadCertificateFiles(this.options);
    this.currentSet = set;
    this.onChange = onChange;
    this.stopped = false;
    this.fingerprint = await this.statFingerprint();
    this.log.info('certificates loaded', { identities: info.identities, notAfter: info.notAfter.toISOString() });
    await this.watch.start();
    return set;
  }

  /** Reads the files now; resolves when they are read (and a valid change delivered). */
  recheck(): Promise<void> {
    return this.watch.checkNow();
  }

  /** The set in use: the last valid one. */
  current(): CertificateSet {
    if (!this.currentSet) throw new Error('CertFilesTlsSource not started');
    return this.currentSet;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch.stop();
  }

  private files(): string[] {
    const p = certPaths(this.options);
    return [p.certFile, p.keyFile, p.caFile, ...(p.crlFile === undefined ? [] : [p.crlFile])];
  }

  /** inode, size and mtime of each file, through symlinks; '' parts for missing files. */
  private async statFingerprint(): Promise<string> {
    const parts = await Promise.all(
      this.files().map((f) =>
        stat(f).then(
          (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
          () => '',
        ),
      ),
    );
    return parts.join('|');
  }

  private async checkOnce(): Promise<void> {
    this.fingerprint = await this.statFingerprint();
    let set: CertificateSet;
    try {
      set = await readSet(certPaths(this.options));
    } catch (err) {
      // Log once per outage, not on every poll while the files stay missing.
      if (this.logged.changed('unreadable', true)) this.log.warn('certificate files unreadable; keeping the current certificates', { error: err });
      return;
    }
    this.logged.changed('unreadable', false);
    if (this.stopped || (this.currentSet && sameSet(set, this.currentSet))) return;
    const checked = validateCertificateSet(set);
    if (!checked.ok) {
      // Log a given bad content once, not on every poll while it stays.
      if (this.logged.changed('rejected', set)) {
        this.log.warn('new certificate files rejected; keeping the current certificates', { reason: checked.reason });
      }
      return;
    }
    this.logged.changed('rejected', undefined);
    this.currentSet = set;
    this.log.info('certificates reloaded', { identities: checked.value.identities, notAfter: checked.value.notAfter.toISOString() });
    try {
      this.onChange?.(set, checked.value);
    } catch (err) {
      this.log.error('certificate change handler failed', { error: err });
    }
  }
}
