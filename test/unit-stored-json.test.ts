import { StoredJson, StoredJsonFile } from '../src/store/stored-json';

/** What the file store wrote before: the routes made an object, JSON.stringify with two spaces. */
const canonical = (file: StoredJsonFile): string => `${JSON.stringify({ ...file, routes: Object.fromEntries(file.routes) }, null, 2)}\n`;

describe('StoredJson: the bytes of routes.json', () => {
  it('are exactly what JSON.stringify writes with two spaces, for plain, odd and hand-edited values, in JavaScript key order', () => {
    const routes = new Map<string, unknown>([
      ['web', { serviceName: 'web', servicePath: '/a,/b', users: 'u:"quoted" \\ back', note: 'ünïcødé\n\t' }],
      ['123', { serviceName: '123', port: '1' }],
      ['__proto__', { serviceName: '__proto__', port: '2' }],
      ['7', { serviceName: '7', port: '3' }],
      ['007', { serviceName: '007', port: '4' }],
      ['4294967295', { serviceName: '4294967295', port: '5' }],
      ['empty', {}],
      ['text', 'not an object'],
      ['number', 7],
      ['none', null],
      ['list', [1, ['a', {}], { deep: { deeper: [] } }]],
    ]);
    const file = {
      index: 42,
      routes,
      certs: { a: '-----BEGIN X-----\nAAA\n-----END X-----\n' },
      acme: { challenges: { t: { certName: 'a', keyAuthorization: 'k' } } },
    };
    expect(new StoredJson().bytes(file).toString()).toBe(canonical(file));
  });

  it('writes empty sections as JSON.stringify does', () => {
    const file = { index: 0, routes: new Map(), certs: {}, acme: { challenges: {} } };
    expect(new StoredJson().bytes(file).toString()).toBe(canonical(file));
  });

  it('gives the new text of a replaced value and the remembered text of a kept one', () => {
    const json = new StoredJson();
    const kept = { serviceName: 'a', port: '1' };
    const first = {
      index: 1,
      routes: new Map<string, unknown>([
        ['a', kept],
        ['b', { serviceName: 'b', port: '2' }],
      ]),
      certs: {},
      acme: { challenges: {} },
    };
    expect(json.bytes(first).toString()).toBe(canonical(first));
    const second = {
      ...first,
      index: 2,
      routes: new Map<string, unknown>([
        ['a', kept],
        ['b', { serviceName: 'b', port: '3' }],
      ]),
    };
    expect(json.bytes(second).toString()).toBe(canonical(second));
  });

  it('gives the remembered text of kept values right through writes that add, lengthen and remove others, and never changes bytes it gave', () => {
    const json = new StoredJson();
    const values = new Map<string, unknown>();
    for (let i = 0; i < 20; i++) values.set(`r${i}`, { serviceName: `r${i}`, port: String(i) });
    const given: { bytes: Buffer; text: string }[] = [];
    const write = (): void => {
      const file = { index: given.length + 1, routes: new Map(values), certs: {}, acme: { challenges: {} } };
      const bytes = json.bytes(file);
      expect(bytes.toString()).toBe(canonical(file));
      given.push({ bytes, text: bytes.toString() });
    };
    write();
    // Longer: every entry after it moves in the file.
    values.set('r3', { serviceName: 'r3', port: '30000', servicePath: '/a-much-longer-path' });
    write();
    values.delete('r0');
    values.set('7', { serviceName: '7', port: '7' });
    write();
    values.set('r19', { serviceName: 'r19', port: '1' });
    write();
    write();
    for (const { bytes, text } of given) expect(bytes.toString()).toBe(text);
  });
});
