// One check for the internal options (data path options, shard tunables): a value outside
// its range is a programming or wiring error, refused where the options enter, with the
// option's name and the accepted range (docs/architecture.md, "The broker lifecycle").

/** Throws a RangeError naming `what` unless `value` is an integer in min..max. */
export function requireIntegerIn(what: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}
