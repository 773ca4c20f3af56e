/** The file store's file as an object: what JSON.stringify writes. */
export interface StoredJsonFile {
  readonly index: number;
  readonly routes: Readonly<Record<string, unknown>>;
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
    const names = Object.keys(file.routes);
    const head = `{\n  "index": ${JSON.stringify(file.index)},\n  "routes": ${names.length === 0 ? '{}' : '{\n'}`;
    const parts: Buffer[] = [Buffer.from(head)];
    names.forEach((name, i) => {
      if (i > 0) parts.push(ENTRY_SEPARATOR);
      parts.push(this.entry(name, file.routes[name]));
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
 * `value` as JSON.stringify(..., null, 2) writes it `depth` levels down: its inner lines indented
 * two spaces more per level (a string in JSON holds no raw line break, so every one is structure).
 */
function indented(value: unknown, depth: number): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(/\n/g, `\n${'  '.repeat(depth)}`);
}
