// The result of parsing untrusted input (flags, KubeLink specs, frames, certificates): a
// value, or the reason it was refused, so callers report the reason instead of catching.

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };
