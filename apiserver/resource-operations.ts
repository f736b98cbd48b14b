// The semantics of the resource verbs, independent of HTTP: create, get, list, update,
// patch, delete, deletecollection, with the real server's rules for resourceVersion
// (409 Conflict on a stale write), generation, the status subresource, finalizers,
// namespaces that must exist, and no-op writes that change nothing.

import { ApiError, alreadyExists, badRequest, conflict, invalid, notFound, type FieldError } from './api-errors.js';
import type { JsonObject, JsonValue, KubeObject, ResourceType } from './api-types.js';
import { apiVersionOf, isJsonObject, qualifiedResource, storageKey } from './api-types.js';
import { CRD_GROUP, CRD_PLURAL } from './builtin-resources.js';
import { resourceTypesOfCrd } from './crd.js';
import { cloneJson } from './json-value.js';
import { matchesFilter, type ListFilter } from './list-filter.js';
import { carryOverServerFields, sameExceptResourceVersion, specChanged, validateObjectMeta } from './object-meta.js';
import type { ObjectStore } from './object-store.js';
import { applyPatchBody, type PatchKind } from './patch.js';
import type { ResourceRegistry } from './resource-registry.js';
import type { StrategyContext, TypeStrategy } from './type-strategies.js';

export const CRD_STORAGE_KEY = `${CRD_GROUP}/${CRD_PLURAL}`;
const NAMESPACES_KEY = '/namespaces';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
}

export interface WriteResult {
  /** HTTP status: 201 created, 200 done, 202 deletion deferred by finalizers. */
  code: number;
  object: KubeObject;
  warnings: string[];
}

/** What a request addresses: a resource type, and for item verbs a namespace/name. */
export interface Target {
  type: ResourceType;
  namespace?: string;
  name: string;
}

export interface ListOptions {
  limit?: number;
  continueToken?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

export interface ResourceOperationsDeps {
  store: ObjectStore;
  registry: ResourceRegistry;
  strategyFor: (type: ResourceType) => TypeStrategy;
  now: () => Date;
  newUid: () => string;
  /** Five characters appended to metadata.generateName. */
  randomNameSuffix: () => string;
}

/** RFC 3339 with second precision, as Kubernetes writes metav1.Time. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function names(type: ResourceType): { resource: string; group: string; plural: string } {
  return { resource: qualifiedResource(type), group: type.group, plural: type.plural };
}

export class ResourceOperations {
  constructor(private readonly deps: ResourceOperationsDeps) {}

  /** Registers the resource types of every stored CRD (after loading a snapshot). */
  syncAllCrds(): void {
    for (const crd of this.deps.store.list(CRD_STORAGE_KEY)) this.deps.registry.setCustomTypes(crd.metadata.name!, resourceTypesOfCrd(crd));
  }

  /** The object as seen through `type`'s version: stored objects of a CRD may carry another version's apiVersion. */
  present(type: ResourceType, obj: KubeObject): KubeObject {
    const apiVersion = apiVersionOf(type);
    return obj.apiVersion === apiVersion && obj.kind === type.kind ? obj : { ...obj, apiVersion, kind: type.kind };
  }

  get(target: Target): KubeObject {
    const obj = this.deps.store.get(storageKey(target.type), target.namespace, target.name);
    if (!obj) throw notFound(names(target.type), target.name);
    return this.present(target.type, obj);
  }

  list(type: ResourceType, filter: ListFilter, options: ListOptions = {}): ListResult {
    const resourceVersion = String(this.deps.store.resourceVersion());
    let items = this.deps.store.list(storageKey(type), filter.namespace).filter((o) => matchesFilter(filter, o));
    if (options.continueToken) {
      const after = decodeContinue(options.continueToken);
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > after);
    }
    const result: ListResult = { items, resourceVersion };
    if (options.limit !== undefined && options.limit > 0 && items.length > options.limit) {
      result.items = items.slice(0, options.limit);
      const last = result.items[result.items.length - 1];
      result.continueToken = encodeContinue(`${last.metadata.namespace ?? ''}/${last.metadata.name}`, resourceVersion);
      result.remainingItemCount = items.length - options.limit;
    }
    result.items = result.items.map((o) => this.present(type, o));
    return result;
  }

  create(type: ResourceType, namespace: string | undefined, body: JsonValue, options: WriteOptions): WriteResult {
    const obj = this.decodeBody(type, body);
    this.checkNamespace(type, namespace, obj);
    if (obj.metadata.resourceVersion) {
      throw new ApiError(500, 'InternalError', 'Internal error occurred: resourceVersion should not be set on objects to be created');
    }
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${this.deps.randomNameSuffix()}`;
    for (const serverField of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink']) {
      delete obj.metadata[serverField];
    }
    if (type.hasStatusSubresource) delete obj.status;
    const ctx = this.context();
    obj.metadata.uid = this.deps.newUid();
    obj.metadata.creationTimestamp = ctx.timestamp;
    if (type.tracksGeneration) obj.metadata.generation = 1;

    const strategy = this.deps.strategyFor(type);
    strategy.prepareForCreate?.(obj, ctx);
    this.validate(type, strategy, obj, undefined);
    const warnings = this.checkUnknownFields(type, ctx, options);
    if (this.deps.store.get(storageKey(type), obj.metadata.namespace, obj.metadata.name!)) throw alreadyExists(names(type), obj.metadata.name!);
    if (options.dryRun) return { code: 201, object: this.present(type, obj), warnings };
    const stored = this.deps.store.create(storageKey(type), obj);
    this.afterCommit(type, stored);
    return { code: 201, object: this.present(type, stored), warnings };
  }

  /** PUT of the object or of its status subresource. */
  update(target: Target, body: JsonValue, options: WriteOptions, subresource?: 'status'): WriteResult {
    const obj = this.decodeBody(target.type, body);
    return this.replace(target, obj, options, subresource, 'update');
  }

  patch(target: Target, kind: PatchKind | undefined, body: string, options: WriteOptions, subresource?: 'status'): WriteResult {
    const current = this.get(target);
    const patched = applyPatchBody(kind, current, body, target.type.crdName !== undefined);
    // A patch is unconditional unless it carries a resourceVersion itself.
    if (patched.metadata.resourceVersion === undefined || patched.metadata.resourceVersion === null) {
      patched.metadata.resourceVersion = current.metadata.resourceVersion;
    }
    return this.replace(target, this.decodeBody(target.type, patched as unknown as JsonValue), options, subresource, 'patch');
  }

  delete(target: Target, deleteOptions: JsonValue | undefined, options: WriteOptions): WriteResult {
    const key = storageKey(target.type);
    const old = this.deps.store.get(key, target.namespace, target.name);
    if (!old) throw notFound(names(target.type), target.name);
    checkPreconditions(deleteOptions, old);
    if (options.dryRun) return { code: 200, object: this.present(target.type, old), warnings: [] };

    if ((old.metadata.finalizers ?? []).length > 0) {
      if (old.metadata.deletionTimestamp) return { code: 202, object: this.present(target.type, old), warnings: [] };
      const marked = cloneJson(old);
      marked.metadata.deletionTimestamp = formatTimestamp(this.deps.now());
      marked.metadata.deletionGracePeriodSeconds = 0;
      if (target.type.tracksGeneration) marked.metadata.generation = (old.metadata.generation ?? 0) + 1;
      return { code: 202, object: this.present(target.type, this.deps.store.update(key, marked)), warnings: [] };
    }
    if (key === NAMESPACES_KEY) this.deleteNamespaceContents(target.name);
    if (key === CRD_STORAGE_KEY) this.deleteCustomResourcesOf(old);
    const deleted = this.deps.store.delete(key, target.namespace, target.name);
    if (key === CRD_STORAGE_KEY) this.deps.registry.setCustomTypes(target.name, []);
    return { code: 200, object: this.present(target.type, deleted), warnings: [] };
  }

  deleteCollection(type: ResourceType, filter: ListFilter, deleteOptions: JsonValue | undefined, options: WriteOptions): KubeObject[] {
    return this.deps.store
      .list(storageKey(type), filter.namespace)
      .filter((o) => matchesFilter(filter, o))
      .map((o) => this.delete({ type, namespace: o.metadata.namespace, name: o.metadata.name! }, deleteOptions, options).object);
  }

  private replace(target: Target, obj: KubeObject, options: WriteOptions, subresource: 'status' | undefined, verb: 'update' | 'patch'): WriteResult {
    const { type } = target;
    const key = storageKey(type);
    if (obj.metadata.name !== target.name) {
      throw badRequest(`the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${target.name})`);
    }
    this.checkNamespace(type, target.namespace, obj);
    const old = this.deps.store.get(key, target.namespace, target.name);
    if (!old) throw notFound(names(type), target.name);
    const requested = obj.metadata.resourceVersion;
    if (requested === undefined || requested === '') {
      if (verb === 'update' && type.crdName !== undefined) {
        throw invalid(type.kind, type.group, target.name, [
          { field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', detail: 'Invalid value: 0x0: must be specified for an update' },
        ]);
      }
    } else if (requested !== old.metadata.resourceVersion) {
      throw conflict(names(type), target.name);
    }

    let next: KubeObject;
    if (subresource === 'status') {
      next = cloneJson(old);
      next.apiVersion = obj.apiVersion;
      if (obj.status === undefined) delete next.status;
      else next.status = obj.status;
    } else {
      next = obj;
      carryOverServerFields(next.metadata, old.metadata);
      if (type.hasStatusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = cloneJson(old.status);
      }
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;

    const ctx = this.context();
    const strategy = this.deps.strategyFor(type);
    strategy.prepareForUpdate?.(next, old, ctx);
    if (type.tracksGeneration && subresource !== 'status' && specChanged(type, next, old)) {
      next.metadata.generation = (old.metadata.generation ?? 0) + 1;
    }
    this.validate(type, strategy, next, old);
    const warnings = this.checkUnknownFields(type, ctx, options);
    if (sameExceptResourceVersion(next, old) || options.dryRun) return { code: 200, object: this.present(type, options.dryRun ? next : old), warnings };

    let stored = this.deps.store.update(key, next);
    if (stored.metadata.deletionTimestamp && (stored.metadata.finalizers ?? []).length === 0) {
      if (key === NAMESPACES_KEY) this.deleteNamespaceContents(target.name);
      if (key === CRD_STORAGE_KEY) this.deleteCustomResourcesOf(stored);
      stored = this.deps.store.delete(key, target.namespace, target.name);
      if (key === CRD_STORAGE_KEY) this.deps.registry.setCustomTypes(target.name, []);
    } else {
      this.afterCommit(type, stored);
    }
    return { code: 200, object: this.present(type, stored), warnings };
  }

  /** A mutable copy of a request body with apiVersion/kind checked and defaulted. */
  private decodeBody(type: ResourceType, body: JsonValue): KubeObject {
    if (!isJsonObject(body)) throw badRequest('the body of the request must be a JSON object');
    const obj = cloneJson(body) as unknown as KubeObject;
    const apiVersion = apiVersionOf(type);
    if (obj.kind !== undefined && obj.kind !== type.kind) {
      throw badRequest(`the kind of the object (${String(obj.kind)}) does not match the kind of the resource (${type.kind})`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
      const otherVersion = this.deps.registry.all().some((t) => apiVersionOf(t) === obj.apiVersion && t.group === type.group && t.plural === type.plural);
      if (!otherVersion) {
        throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`);
      }
    }
    obj.apiVersion = apiVersion;
    obj.kind = type.kind;
    if (!isJsonObject(obj.metadata as JsonValue)) obj.metadata = {};
    return obj;
  }

  private checkNamespace(type: ResourceType, namespace: string | undefined, obj: KubeObject): void {
    if (!type.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    if (obj.metadata.namespace === undefined || obj.metadata.namespace === '') obj.metadata.namespace = namespace;
    else if (obj.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (!this.deps.store.get(NAMESPACES_KEY, undefined, namespace ?? '')) {
      throw notFound({ resource: 'namespaces', group: '', plural: 'namespaces' }, namespace ?? '');
    }
  }

  private validate(type: ResourceType, strategy: TypeStrategy, obj: KubeObject, old: KubeObject | undefined): void {
    const errors: FieldError[] = [...validateObjectMeta(type, obj), ...(strategy.validate?.(obj, old) ?? [])];
    if (errors.length > 0) throw invalid(type.kind, type.group, obj.metadata.name ?? '', errors);
  }

  private checkUnknownFields(type: ResourceType, ctx: StrategyContext, options: WriteOptions): string[] {
    if (ctx.unknownFields.length === 0 || options.fieldValidation === 'Ignore') return [];
    const texts = ctx.unknownFields.map((f) => `unknown field "${f}"`);
    if (options.fieldValidation === 'Strict') {
      throw badRequest(`${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: strict decoding error: ${texts.join(', ')}`);
    }
    return texts;
  }

  private context(): StrategyContext {
    return {
      timestamp: formatTimestamp(this.deps.now()),
      unknownFields: [],
      listStored: (key) => this.deps.store.list(key),
    };
  }

  private afterCommit(type: ResourceType, stored: KubeObject): void {
    if (storageKey(type) === CRD_STORAGE_KEY) this.deps.registry.setCustomTypes(stored.metadata.name!, resourceTypesOfCrd(stored));
  }

  /** The real namespace controller empties a terminating namespace; this server does it at once. */
  private deleteNamespaceContents(namespace: string): void {
    for (const key of this.deps.store.storageKeys()) {
      const type = this.deps.registry.findByStorageKey(key);
      if (!type?.namespaced) continue;
      for (const obj of this.deps.store.list(key, namespace)) this.deps.store.delete(key, namespace, obj.metadata.name!);
    }
  }

  private deleteCustomResourcesOf(crd: KubeObject): void {
    const spec = crd.spec as JsonObject;
    const plural = isJsonObject(spec?.names) ? String(spec.names.plural) : '';
    const key = `${String(spec?.group ?? '')}/${plural}`;
    for (const obj of this.deps.store.list(key)) this.deps.store.delete(key, obj.metadata.namespace, obj.metadata.name!);
  }
}

function checkPreconditions(deleteOptions: JsonValue | undefined, old: KubeObject): void {
  const pre = isJsonObject(deleteOptions) && isJsonObject(deleteOptions.preconditions) ? deleteOptions.preconditions : undefined;
  if (!pre) return;
  if (typeof pre.uid === 'string' && pre.uid !== old.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
  }
  if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== old.metadata.resourceVersion) {
    throw new ApiError(
      409,
      'Conflict',
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
    );
  }
}

function encodeContinue(after: string, resourceVersion: string): string {
  return Buffer.from(JSON.stringify({ v: 'kubelink-test/1', rv: resourceVersion, after })).toString('base64url');
}

function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through
  }
  throw badRequest(`invalid continue token: ${token}`);
}
