// Certificates from a kubernetes.io/tls Secret (--secret in --namespace): a TlsSource (see
// sources.ts). The Secret is watched through the resilient informer (field selector
// metadata.name); each valid change is delivered, an invalid one is logged and the
// material in force is kept, so a half-done rotation never breaks running tunnels. The
// Secret's optional ca.crl is part of that material (checked: parses, signed by a CA of
// the bundle, not expired).
//
// --secret-manage-mode self (needs --dns-name): the broker keeps the Secret itself. When
// it is missing, invalid, not for --dns-name, about to expire, or not from the current CA,
// a certificate for --dns-name is issued from the CA in `<secret>-ca` (created when absent;
// see tls-secret.ts for why it is separate) and written with the resourceVersion read, so
// two replicas never overwrite each other: on 409 the Secret is read again, and a valid
// certificate the other replica wrote is adopted instead of replaced. The operator's
// ca.crl is kept in the Secret across renewals and judged apart from the certificate
// (secret-crl.ts): an unusable ca.crl is reported and the CRL in force stays, while the
// certificate is still renewed when it must be.
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { ParseResult } from '../../shared/parse-result.js';
import type { TlsMaterial } from '../../shared/shard-protocol.js';
import { validateCertificateSet } from './cert-files.js';
import { createCoalescedTask } from '../../shared/coalesced-task.js';
import type { CoalescedTask } from '../../shared/coalesced-task.js';
import type { Config } from '../flags.js';
import type { Logger } from '../../shared/log.js';
import { createCa, issueCertificate } from './pki.js';
import type { CertificateAuthority } from './pki.js';
import type { TlsSource } from './tls-source.js';
import { apiError, apiErrorMessage, isConflict, isNotFound } from '../k8s/api-error.js';
import { systemClock } from '../../shared/clock.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';
import { ResilientInformer } from '../k8s/informer.js';
import type { InformerTunables, WatchStarter } from '../k8s/informer.js';
import { checkCa, renewalReason } from './self-managed-certificate.js';
import { checkSecretMaterial, crlProblem, withCrl, withoutCrl } from './secret-crl.js';
import { TLS_SECRET_TYPE, caFromSecret, caSecretData, caSecretName, crlFromSecret, sameMaterial, tlsMaterialFromSecret, tlsSecretData } from './tls-secret.js';

export interface SecretTlsSourceOptions {
  /** Self mode: renew this long before the certificate expires. */
  renewBeforeDays: number;
  /** Self mode: validity of an issued certificate. */
  certificateValidityDays: number;
  /** Self mode: validity of a created CA. */
  caValidityDays: number;
  /** Self mode: RSA key size. */
  keyBits: number;
  /** Self mode: how often the expiry of the certificate in force is checked. */
  renewCheckIntervalMs: number;
  /** Self mode: write attempts when other writers keep conflicting. */
  maxWriteAttempts: number;
  /** start() fails when the Secret could not be listed within this time. */
  initialSyncTimeoutMs: number;
  informer: Partial<InformerTunables>;
  clock: Clock;
  watch?: WatchStarter;
}

export const SECRET_TLS_SOURCE_DEFAULTS: SecretTlsSourceOptions = {
  renewBeforeDays: 30,
  certificateValidityDays: 365,
  caValidityDays: 10 * 365,
  keyBits: 2048,
  renewCheckIntervalMs: 60 * 60_000,
  maxWriteAttempts: 5,
  initialSyncTimeoutMs: 60_000,
  informer: {},
  clock: systemClock,
};

const DAY_MS = 24 * 60 * 60 * 1000;

export class SecretTlsSource implements TlsSource {
  private readonly options: SecretTlsSourceOptions;
  private readonly log: Logger;
  private readonly core: CoreV1Api;
  readonly namespace: string;
  readonly secretName: string;
  private readonly selfManaged: boolean;
  private readonly dnsName: string | undefined;
  private informer: ResilientInformer<V1Secret> | undefined;
  private material: TlsMaterial | undefined;
  private rejected: TlsMaterial | undefined;
  /** Self mode: the unusable ca.crl last reported (reported once, not on every resync). */
  private rejectedCrl: string | undefined;
  private onChange: ((material: TlsMaterial) => void) | undefined;
  private reconcile: CoalescedTask | undefined;
  private renewTimer: TimerHandle | undefined;
  private stopped = false;
  /** Self mode: the CA certificate in use. */
  private caPem: string | undefined;
  /** Self mode: resourceVersion of the Secret our last write replaced; the informer may still show it. */
  private overwrittenResourceVersion: string | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    config: Config,
    log: Logger,
    options: Partial<SecretTlsSourceOptions> = {},
  ) {
    this.options = { ...SECRET_TLS_SOURCE_DEFAULTS, ...options };
    this.selfManaged = config.secretManageMode === 'self';
    this.dnsName = config.dnsName;
    this.namespace = config.namespace;
    // parseFlags gives --secret its default with --secret-manage-mode self (flags.ts).
    const name = config.secret;
    if (this.selfManaged && !this.dnsName) throw new Error('--secret-manage-mode self needs --dns-name (the name the certificate is issued for)');
    if (!name) throw new Error('no certificates configured: give --certfile/--keyfile/--cacertfile, or --secret, or --secret-manage-mode self');
    this.secretName = name;
    this.log = log.child({ component: 'secret-tls-source', secret: `${this.namespace}/${name}` });
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * Loads the Secret (self mode: creates or renews it first) and returns its material;
   * fails when it is missing or invalid (not in self mode) or cannot be read in time.
   * Later valid changes go to `onChange`.
   */
  async start(onChange: (material: TlsMaterial) => void): Promise<TlsMaterial> {
    if (this.informer) throw new Error('SecretTlsSource already started');
    const { namespace, secretName } = this;
    this.informer = new ResilientInformer<V1Secret>({
      ...this.options.informer,
      resource: `secret ${namespace}/${secretName}`,
      path: `/api/v1/namespaces/${namespace}/secrets`,
      fieldSelector: `metadata.name=${secretName}`,
      list: (selectors) => this.core.listNamespacedSecret({ namespace, ...selectors }),
      watch: this.options.watch ?? new Watch(this.kubeConfig),
      onEvent: () => this.onSecretChanged(),
      clock: this.options.clock,
      log: this.log,
    });
    this.informer.start();
    try {
      await this.informer.waitForSync(this.options.initialSyncTimeoutMs);
      if (this.selfManaged) {
        await this.reconcileSelfManaged();
      } else {
        const secret = this.cachedSecret();
        if (!secret) throw new Error('it does not exist (create it, or use --secret-manage-mode self)');
        const material = tlsMaterialFromSecret(secret);
        const checked = material.ok ? checkSecretMaterial(material.value, this.now()) : material;
        if (!material.ok || !checked.ok) throw new Error(`it is not usable: ${checked.ok ? '' : checked.reason}`);
        this.adopt(material.value, 'loaded');
      }
    } catch (err) {
      await this.stop();
      throw new Error(`certificates from Secret ${namespace}/${secretName}: ${(err as Error).message}`, { cause: err });
    }
    this.onChange = onChange;
    if (this.selfManaged) {
      this.reconcile = createCoalescedTask(() => this.reconcileSelfManaged(), 0, (err) =>
        this.log.error('keeping the Secret current failed; retrying on the next change or check', { error: apiErrorMessage(err) }),
      );
      this.scheduleRenewCheck();
    }
    // A change that arrived while starting was not yet compared with the material in force.
    this.onSecretChanged();
    return this.material!;
  }

  current(): TlsMaterial {
    if (!this.material) throw new Error('SecretTlsSource not started');
    return this.material;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.renewTimer !== undefined) this.options.clock.clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    await this.informer?.stop();
    await this.reconcile?.stop();
  }

  private cachedSecret(): V1Secret | undefined {
    return this.informer?.get(this.secretName, this.namespace);
  }

  /** Informer callback: deliver a valid new set, keep the old one otherwise. */
  private onSecretChanged(): void {
    if (!this.onChange || this.stopped) return;
    const secret = this.cachedSecret();
    if (!secret) {
      this.log.warn('Secret deleted; keeping the certificates in force');
      this.reconcile?.trigger();
      return;
    }
    if (secret.metadata?.resourceVersion !== undefined && secret.metadata.resourceVersion === this.overwrittenResourceVersion) return;
    const material = tlsMaterialFromSecret(secret);
    if (material.ok && sameMaterial(material.value, this.material)) return;
    if (this.selfManaged) {
      this.onSelfManagedSecretChanged(material);
      return;
    }
    const checked = material.ok ? checkSecretMaterial(material.value, this.now()) : material;
    if (!material.ok || !checked.ok) {
      // Log a given bad content once, not on every resync.
      if (!material.ok || !sameMaterial(material.value, this.rejected)) {
        this.log.warn('Secret changed to unusable certificates; keeping the ones in force', { reason: checked.ok ? '' : checked.reason });
      }
      if (material.ok) this.rejected = material.value;
      return;
    }
    this.adopt(material.value, 'reloaded');
  }

  /** Self mode: a certificate that is not right is ours to replace; a usable one is adopted with the CRL to use. */
  private onSelfManagedSecretChanged(material: ParseResult<TlsMaterial>): void {
    if (!material.ok || renewalReason(material, this.policy(), this.options.clock.now(), this.caPem) !== undefined) {
      // Missing keys, invalid, expiring, for another name or from another CA.
      this.reconcile?.trigger();
      return;
    }
    try {
      this.adopt(this.withUsableCrl(material.value), 'reloaded');
    } catch (err) {
      this.log.error('the Secret\'s certificate cannot be used with any CRL at hand; keeping the certificates in force', { reason: (err as Error).message });
    }
  }

  /**
   * Self mode: `certificates` with the CRL to enforce: the Secret's ca.crl when it is usable
   * (or absent: the operator removed it), else the CRL in force, so a broken ca.crl neither
   * drops revocations nor blocks a renewal. Throws when neither fits (at start, when nothing
   * is in force yet, or when the CRL in force does not fit `certificates`).
   */
  private withUsableCrl(certificates: TlsMaterial): TlsMaterial {
    const now = this.now();
    const problem = crlProblem(certificates, now);
    if (problem === undefined) {
      this.rejectedCrl = undefined;
      return certificates;
    }
    if (this.material === undefined) throw new Error(problem);
    const kept = withCrl(certificates, this.material.crl);
    const keptProblem = crlProblem(kept, now);
    if (keptProblem !== undefined) throw new Error(`${problem}; the CRL in force does not fit either (${keptProblem})`);
    if (certificates.crl !== this.rejectedCrl) {
      this.log.warn('the Secret\'s ca.crl is unusable; keeping the CRL in force until it is fixed', { reason: problem, crlInForce: this.material.crl !== undefined });
      this.rejectedCrl = certificates.crl;
    }
    return kept;
  }

  private now(): Date {
    return new Date(this.options.clock.now());
  }

  private adopt(material: TlsMaterial, what: 'loaded' | 'reloaded' | 'issued'): void {
    if (sameMaterial(material, this.material)) return;
    this.material = material;
    this.rejected = undefined;
    const info = validateCertificateSet(material);
    this.log.info(`certificates ${what}`, info.ok ? { identities: info.value.identities, notAfter: info.value.notAfter.toISOString() } : {});
    if (!this.onChange) return;
    try {
      this.onChange(material);
    } catch (err) {
      this.log.error('certificate change handler failed', { error: err });
    }
  }

  private policy(): { dnsName: string; renewBeforeMs: number } {
    return { dnsName: this.dnsName!, renewBeforeMs: this.options.renewBeforeDays * DAY_MS };
  }

  private scheduleRenewCheck(): void {
    if (this.stopped) return;
    this.renewTimer = this.options.clock.setTimeout(() => {
      this.renewTimer = undefined;
      // The certificate's expiry alone: an expired CRL is the operator's to renew (secret-crl.ts).
      const info = this.material ? validateCertificateSet(withoutCrl(this.material)) : undefined;
      if (!info?.ok || info.value.notAfter.getTime() - this.options.clock.now() < this.policy().renewBeforeMs) this.reconcile?.trigger();
      this.scheduleRenewCheck();
    }, this.options.renewCheckIntervalMs);
  }

  // ---- self mode ----

  /** Makes the Secret hold a current certificate for --dns-name from the CA, and adopts it. */
  private async reconcileSelfManaged(): Promise<void> {
    const { namespace, secretName } = this;
    for (let attempt = 1; attempt <= this.options.maxWriteAttempts; attempt++) {
      if (this.stopped) return;
      const ca = await this.ensureCa();
      this.caPem = ca.certPem;
      // Read directly: the informer may not have seen the other replica's write yet.
      const secret = await this.readSecret(secretName);
      const material = secret ? tlsMaterialFromSecret(secret) : undefined;
      const reason = renewalReason(material, this.policy(), this.options.clock.now(), ca.certPem);
      if (reason === undefined && material?.ok) {
        this.adopt(this.withUsableCrl(material.value), 'loaded');
        return;
      }
      this.log.info('issuing a certificate', { reason, dnsName: this.dnsName });
      const issued = await issueCertificate(ca, {
        commonName: this.dnsName!,
        dnsNames: [this.dnsName!],
        validDays: this.options.certificateValidityDays,
        keyBits: this.options.keyBits,
        now: () => new Date(this.options.clock.now()),
      });
      const certificates: TlsMaterial = { cert: issued.certPem, key: issued.keyPem, ca: ca.certPem };
      // Before writing: at start a broken ca.crl fails here, and nothing is half done.
      const next = this.withUsableCrl(withCrl(certificates, crlFromSecret(secret)));
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: TLS_SECRET_TYPE,
        ...secret,
        metadata: {
          ...secret?.metadata,
          name: secretName,
          namespace,
          labels: { ...secret?.metadata?.labels, 'app.kubernetes.io/managed-by': 'kubelink' },
        },
        // The operator's ca.crl (and any other key) stays as it is, even when unusable.
        data: { ...secret?.data, ...tlsSecretData(certificates) },
      };
      try {
        if (secret) await this.core.replaceNamespacedSecret({ name: secretName, namespace, body });
        else await this.core.createNamespacedSecret({ namespace, body });
        this.overwrittenResourceVersion = secret?.metadata?.resourceVersion;
      } catch (err) {
        if (isConflict(err)) {
          this.log.info('the Secret was written concurrently; reading it again', { attempt });
          continue;
        }
        throw apiError(`writing Secret ${namespace}/${secretName}`, err);
      }
      this.adopt(next, 'issued');
      return;
    }
    throw new Error(`Secret ${namespace}/${secretName}: writes kept conflicting (${this.options.maxWriteAttempts} attempts)`);
  }

  private async readSecret(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw apiError(`reading Secret ${this.namespace}/${name}`, err);
    }
  }

  /** The CA from `<secret>-ca`, created when absent. A CA there that is unusable is an error, never overwritten. */
  private async ensureCa(): Promise<CertificateAuthority> {
    const name = caSecretName(this.secretName);
    for (let attempt = 1; attempt <= this.options.maxWriteAttempts; attempt++) {
      const secret = await this.readSecret(name);
      if (secret) {
        const ca = caFromSecret(secret);
        const checked = ca.ok ? checkCa(ca.value, this.options.clock.now()) : ca;
        if (!ca.ok || !checked.ok) throw new Error(`CA Secret ${this.namespace}/${name} is not usable: ${checked.ok ? '' : checked.reason}`);
        if (checked.value.notAfter.getTime() - this.options.clock.now() < this.policy().renewBeforeMs) {
          this.log.warn('the CA expires soon; replace the CA Secret (in every cluster sharing it)', { caSecret: name, notAfter: checked.value.notAfter.toISOString() });
        }
        return ca.value;
      }
      const ca = await createCa({
        commonName: `kubelink CA ${this.dnsName}`,
        validDays: this.options.caValidityDays,
        keyBits: this.options.keyBits,
        now: () => new Date(this.options.clock.now()),
      });
      try {
        await this.core.createNamespacedSecret({
          namespace: this.namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'Opaque',
            metadata: { name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'kubelink' } },
            data: caSecretData(ca),
          },
        });
        this.log.info('CA created', { caSecret: name });
        return ca;
      } catch (err) {
        if (isConflict(err)) continue; // another replica created it first: use theirs
        throw apiError(`creating CA Secret ${this.namespace}/${name}`, err);
      }
    }
    throw new Error(`CA Secret ${this.namespace}/${name}: creation kept conflicting`);
  }
}
