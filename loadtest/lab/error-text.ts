// Errors for people: the message of an error and of each of its causes, on one line.

export function describeError(error: unknown, maxDepth = 6): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < maxDepth; e = (e as { cause?: unknown }).cause) {
    const text = e instanceof Error ? e.message : String(e);
    if (!parts.includes(text)) parts.push(text);
    if (!(e instanceof Error)) break;
  }
  return parts.join(': ').replace(/\s+/g, ' ');
}
