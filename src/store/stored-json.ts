/** The file store's file as an object: what JSON.stringify writes. */
export interface StoredJsonFile {
  readonly index: number;
  /** Written as the object Object.fromEntries makes of it (integer-like names first, as JavaScript orders keys). */
  readonly routes: ReadonlyMap<string, unknown>;
  readonly certs: Readonly<Record<string, unknown>>;
  readonly acme: object;
}

const ENTRY_SEPARATOR = Buffer.from(',\n');

/**
 * The bytes of routes.json: exactly `JSON.stringify(file, null, 2)` and a newline (what people
 * edit by hand), with the bytes of each route's entry made once and remembered by its value
 * object. A write copies the values of the routes it leaves alone, so one changed route among
 * 10,000 is one value turned into JSON and a copy of the rest, not 2 MB of JSON made and encoded
 * again (JSON.stringify has no such memory).
 */
export class StoredJson {
  private readonly entries = new WeakMap<object, { readonly name: string; readonly bytes: Buffer }>();

  bytes(file: StoredJsonFile): Buffer {
    const names = propertyOrder(file.routes.keys());
    const head = `{\n  "index": ${JSON.stringify(file.index)},\n  "routes": ${names.length === 0 ? '{}' : '{\n'}`;
    const parts: Buffer[] = [Buffer.from(head)];
    names.forEach((name, i) => {
      if (i > 0) parts.push(ENTRY_SEPARATOR);
      parts.push(this.entry(name, file.routes.get(name)));
    });
    const tail = `${names.length === 0 ? '' : '\n  }'},\n  "certs": ${indented(file.certs, 1)},\n  "acme": ${indented(file.acme, 1)}\n}\n`;
    parts.push(Buffer.from(tail));
    return Buffer.concat(parts);
  }

  /** `    "<name>": <value>` as it stands in the file. */
  private entry(name: string, value: unknown): Buffer {
    const line = (): Buffer => Buffer.from(`    ${JSON.stringify(name)}: ${indented(value, 2)}`);
    if (typeof value !== 'object' || value === null) return line();
    let known = this.entries.get(value);
    if (known?.name !== name) {
      known = { name, bytes: line() };
      this.entries.set(value, known);
    }
    return known.bytes;
  }
}

/**
 * The order JavaScript keeps an object's keys in, which JSON.stringify writes: names that are array
 * indices first, in numeric order, then the others as inserted. The routes are a map (a service may
 * be called `__proto__`), and making an object of 10,000 of them per write only to list its keys
 * would cost more than this.
 */
function propertyOrder(keys: Iterable<string>): string[] {
  const indices: string[] = [];
  const others: string[] = [];
  for (const key of keys) (isArrayIndex(key) ? indices : others).push(key);
  return [...indices.sort((a, b) => Number(a) - Number(b)), ...others];
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * `value` as JSON.stringify(..., null, 2) writes it `depth` levels down: its inner lines indented
 * two spaces more per level (a string in JSON holds no raw line break, so every one is structure).
 */
function indented(value: unknown, depth: number): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(/\n/g, `\n${'  '.repeat(depth)}`);
}
