// What the real server does to particular types on the way in, beyond generic metadata
// handling: Secrets fold stringData into data, Namespaces get their name label and
// phase, Services get a cluster IP, CRDs get defaults, validation and status, custom
// resources get their structural schema applied.

import type { FieldError } from './api-errors.js';
import type { JsonObject, JsonValue, KubeObject, ResourceType } from './api-types.js';
import { isJsonObject, storageKey } from './api-types.js';
import { CRD_GROUP, CRD_PLURAL } from './builtin-resources.js';
import { crdStatus, defaultCrd, validateCrd } from './crd.js';
import { applyDefaults, pruneUnknownFields, validateAgainstSchema } from './schema-validation.js';
import { formatIpv4, parseIpv4, parsePrefix } from '../src/shared/cidr.js';
import type { Ipv4Prefix } from '../src/shared/types.js';

export interface StrategyContext {
  /** RFC 3339 (seconds) time of this request. */
  timestamp: string;
  /** Members the schema pruned; reported per fieldValidation (Strict rejects, Warn warns). */
  unknownFields: string[];
  /** Current objects of a resource, for allocators that must avoid what is taken. */
  listStored(storageKey: string): KubeObject[];
}

export interface TypeStrategy {
  /** Fills in and normalizes a new object (owned by the caller). */
  prepareForCreate?(obj: KubeObject, ctx: StrategyContext): void;
  /** Same for an update; `old` is the stored object. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): void;
  validate?(obj: KubeObject, old: KubeObject | undefined): FieldError[];
}

const secretStrategy: TypeStrategy = {
  prepareForCreate: (obj) => foldStringData(obj),
  prepareForUpdate: (obj) => foldStringData(obj),
};

/** stringData is write-only: the server base64-encodes it into data (stringData wins). */
function foldStringData(secret: KubeObject): void {
  if (secret.type === undefined) secret.type = 'Opaque';
  const stringData = secret.stringData;
  delete secret.stringData;
  if (!isJsonObject(stringData)) return;
  const data: JsonObject = isJsonObject(secret.data as JsonValue) ? (secret.data as JsonObject) : {};
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  secret.data = data;
}

const namespaceStrategy: TypeStrategy = {
  prepareForCreate(ns) {
    ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name ?? '' };
    ns.spec = { finalizers: ['kubernetes'] };
    ns.status = { phase: 'Active' };
  },
  prepareForUpdate(ns, old) {
    ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name ?? '' };
    ns.spec = old.spec;
  },
};

function serviceStrategy(clusterIpRange: Ipv4Prefix): TypeStrategy {
  const allocate = (ctx: StrategyContext): string => {
    const taken = new Set(ctx.listStored('/services').map((s) => (isJsonObject(s.spec as JsonValue) ? (s.spec as JsonObject).clusterIP : undefined)));
    const size = 2 ** (32 - clusterIpRange.prefixLength);
    // .1 is the `kubernetes` service's address in a real cluster; start after it.
    for (let offset = 2; offset < size - 1; offset++) {
      const ip = formatIpv4((clusterIpRange.network + offset) >>> 0);
      if (!taken.has(ip)) return ip;
    }
    throw new Error(`service cluster IP range ${formatIpv4(clusterIpRange.network)}/${clusterIpRange.prefixLength} is full`);
  };
  const normalize = (svc: KubeObject, clusterIp: string | undefined): void => {
    const spec: JsonObject = isJsonObject(svc.spec as JsonValue) ? (svc.spec as JsonObject) : {};
    svc.spec = spec;
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ??= 'None';
    if (spec.type !== 'ExternalName') {
      if ((spec.clusterIP === undefined || spec.clusterIP === '') && clusterIp !== undefined) spec.clusterIP = clusterIp;
      if (typeof spec.clusterIP === 'string' && spec.clusterIP !== 'None') spec.clusterIPs = [spec.clusterIP];
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
    }
    if (Array.isArray(spec.ports)) {
      for (const port of spec.ports) {
        if (!isJsonObject(port)) continue;
        port.protocol ??= 'TCP';
        if (port.targetPort === undefined && port.port !== undefined) port.targetPort = port.port;
      }
    }
  };
  const oldClusterIp = (old: KubeObject): string | undefined => {
    const spec = old.spec;
    return isJsonObject(spec as JsonValue) && typeof (spec as JsonObject).clusterIP === 'string' ? ((spec as JsonObject).clusterIP as string) : undefined;
  };
  return {
    prepareForCreate(svc, ctx) {
      const spec = isJsonObject(svc.spec as JsonValue) ? (svc.spec as JsonObject) : {};
      const wants = spec.clusterIP;
      normalize(svc, spec.type === 'ExternalName' || (typeof wants === 'string' && wants !== '') ? undefined : allocate(ctx));
      svc.status = { loadBalancer: {} };
    },
    prepareForUpdate(svc, old) {
      normalize(svc, oldClusterIp(old));
    },
    validate(svc) {
      const spec = isJsonObject(svc.spec as JsonValue) ? (svc.spec as JsonObject) : {};
      const ip = spec.clusterIP;
      if (typeof ip === 'string' && ip !== 'None' && parseIpv4(ip) === undefined) {
        return [{ field: 'spec.clusterIPs[0]', reason: 'FieldValueInvalid', detail: `Invalid value: ${JSON.stringify(ip)}: must be a valid IP address` }];
      }
      return [];
    },
  };
}

const crdStrategy: TypeStrategy = {
  prepareForCreate(crd, ctx) {
    defaultCrd(crd);
    crd.status = crdStatus(crd, undefined, ctx.timestamp);
  },
  prepareForUpdate(crd, old, ctx) {
    defaultCrd(crd);
    crd.status = crdStatus(crd, old, ctx.timestamp);
  },
  validate: (crd, old) => validateCrd(crd, old),
};

/** Prune, default and validate against the version's structural schema. */
function customResourceStrategy(type: ResourceType): TypeStrategy {
  const schema = type.schema;
  const shape = (obj: KubeObject, ctx: StrategyContext): void => {
    if (!schema) return;
    ctx.unknownFields.push(...pruneUnknownFields(obj as unknown as JsonValue, schema));
    applyDefaults(obj as unknown as JsonValue, schema);
  };
  return {
    prepareForCreate: shape,
    prepareForUpdate: (obj, _old, ctx) => shape(obj, ctx),
    validate: (obj) => (schema ? validateAgainstSchema(obj as unknown as JsonValue, schema) : []),
  };
}

export interface StrategyOptions {
  /** Range Services get their cluster IPs from. */
  serviceClusterIpRange: string;
}

export function createStrategyLookup(options: StrategyOptions): (type: ResourceType) => TypeStrategy {
  const range = parsePrefix(options.serviceClusterIpRange);
  if (!range.ok) throw new RangeError(`serviceClusterIpRange: ${range.reason}`);
  const builtins: Record<string, TypeStrategy> = {
    '/secrets': secretStrategy,
    '/namespaces': namespaceStrategy,
    '/services': serviceStrategy(range.value),
    [`${CRD_GROUP}/${CRD_PLURAL}`]: crdStrategy,
  };
  const perCustomType = new WeakMap<ResourceType, TypeStrategy>();
  return (type) => {
    if (type.crdName === undefined) return builtins[storageKey(type)] ?? {};
    let strategy = perCustomType.get(type);
    if (!strategy) {
      strategy = customResourceStrategy(type);
      perCustomType.set(type, strategy);
    }
    return strategy;
  };
}
