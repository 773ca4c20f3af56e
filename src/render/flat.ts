/**
 * Text that lives as long as its route (remembered partial output, view parts) is flattened once
 * when it is made. V8 keeps a string built by `+` or a template literal as a tree of pieces (a
 * rope) until it is read; at 10,000 routes the ropes held about 450,000 pieces (13 MiB of heap).
 * Converting a string to a number makes V8 flatten it in place, after which the collector drops
 * the pieces (the trick of the `flatstr` package, which pino used); no API of the language does it
 * otherwise.
 */
export function flattened(text: string): string {
  void Number(text);
  return text;
}

/** Flatten every string of a view part (objects and arrays of them, a few levels deep). */
export function flattenStrings(value: unknown, depth = 0): void {
  if (typeof value === 'string') {
    flattened(value);
    return;
  }
  if (typeof value !== 'object' || value === null || depth > 4) return;
  for (const item of Object.values(value)) flattenStrings(item, depth + 1);
}
