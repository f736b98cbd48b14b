// Errors from @kubernetes/client-node come in several shapes: the generated API throws
// ApiException (`code` = HTTP status, `body` = the Status object, often as a JSON string,
// and a message that embeds every response header); Watch fails with an Error carrying
// `statusCode`; a watch stream reports a Status object in an ERROR event; node-fetch
// throws FetchError with a string errno `code`. These helpers read all of them.

interface StatusLike {
  code?: unknown;
  reason?: unknown;
  message?: unknown;
}

function parsedBody(body: unknown): StatusLike | undefined {
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as unknown;
      return typeof parsed === 'object' && parsed !== null ? (parsed as StatusLike) : undefined;
    } catch {
      return undefined;
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusLike) : undefined;
}

/** The HTTP status of a failed Kubernetes API call, or undefined for network errors. */
export function apiStatusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown; body?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  const status = parsedBody(e.body);
  return typeof status?.code === 'number' ? status.code : undefined;
}

/** The Status reason (e.g. "Conflict", "NotFound", "Expired"), when the server sent one. */
export function apiStatusReason(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = parsedBody((err as { body?: unknown }).body) ?? (err as StatusLike);
  return typeof status.reason === 'string' ? status.reason : undefined;
}

/** A one-line description: status code and the server's message, without response headers. */
export function apiErrorMessage(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const code = apiStatusCode(err);
  const status = parsedBody((err as { body?: unknown }).body);
  if (typeof status?.message === 'string') return `${code ?? '?'} ${status.message}`;
  const message = err instanceof Error ? err.message.split('\n')[0]! : String((err as StatusLike).message ?? err);
  const errno = (err as { code?: unknown }).code;
  if (typeof errno === 'string' && !message.includes(errno)) return `${message} (${errno})`;
  return code !== undefined && !message.startsWith(String(code)) ? `${code} ${message}` : message;
}

/** Wraps `err` so the message says what was attempted and why it failed, in one line. */
export function apiError(what: string, err: unknown): Error {
  return new Error(`${what}: ${apiErrorMessage(err)}`, { cause: err });
}

export const isNotFound = (err: unknown): boolean => apiStatusCode(err) === 404;
export const isConflict = (err: unknown): boolean => apiStatusCode(err) === 409;
/** 410 Gone: the resourceVersion a watch asked for is too old; only a relist helps. */
export const isGone = (err: unknown): boolean => apiStatusCode(err) === 410;
