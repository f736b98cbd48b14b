// API errors as the real server reports them: an HTTP code plus a meta/v1 Status body
// whose `reason`, `message` and `details` kubectl and client-go interpret (kubectl
// prints `Error from server (<reason>): <message>`).

import type { StatusCause, StatusObject } from './api-types.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusObject['details'],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiError';
  }

  toStatus(): StatusObject {
    return failureStatus(this.code, this.reason, this.message, this.details);
  }
}

export function failureStatus(
  code: number,
  reason: string,
  message: string,
  details?: StatusObject['details'],
): StatusObject {
  const status: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = details;
  return status;
}

interface Named {
  /** "kubelinks.kubelink.mandelsoft.org" style resource name for messages. */
  resource: string;
  group: string;
  /** Plural resource name, used as details.kind like the real server does. */
  plural: string;
}

export function notFound(what: Named, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${what.resource} "${name}" not found`, {
    name,
    group: what.group,
    kind: what.plural,
  });
}

export function alreadyExists(what: Named, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${what.resource} "${name}" already exists`, {
    name,
    group: what.group,
    kind: what.plural,
  });
}

export function conflict(what: Named, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${what.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: what.group, kind: what.plural },
  );
}

/** A field error as the apimachinery validation package phrases it. */
export interface FieldError {
  field: string;
  /** FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueTooLong, ... */
  reason: string;
  /** Text after "<field>: ", e.g. `Invalid value: "x": spec.cidr in body should match '...'`. */
  detail: string;
}

/** 422 Invalid with one cause per field error: `Kind.group "name" is invalid: [a, b]`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiError {
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`;
  const parts = errors.map((e) => `${e.field}: ${e.detail}`);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const causes: StatusCause[] = errors.map((e) => ({ reason: e.reason, message: e.detail, field: e.field }));
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    name,
    group,
    kind,
    causes,
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message);
}

export function unsupportedMediaType(message: string): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', message);
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

/** 404 for a URL that names no served resource (kubectl: "the server could not find the requested resource"). */
export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`, undefined, {
    cause: err,
  });
}
