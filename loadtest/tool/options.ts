// Flag values of the lab tool's commands, checked with messages that name the flag.

import { validatePrefix } from '../lab/topology.js';

/** A wrong flag or argument: the tool prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function integerOption(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected an integer ${min}..${max}`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`--${flag} ${value}: expected an integer ${min}..${max}`);
  return value;
}

/** A comma list of integers, e.g. --workers 1,2. */
export function integerListOption(flag: string, text: string, min: number, max: number): number[] {
  const values = text.split(',').map((part) => integerOption(flag, part.trim(), min, max));
  return [...new Set(values)];
}

export function prefixOption(text: string): string {
  try {
    validatePrefix(text);
  } catch (error) {
    throw new UsageError(`--prefix: ${(error as Error).message}`);
  }
  return text;
}
