import { StoredJson, StoredJsonFile } from '../src/store/stored-json';

const canonical = (file: StoredJsonFile): string => `${JSON.stringify(file, null, 2)}\n`;

describe('StoredJson: the text of routes.json', () => {
  it('is exactly what JSON.stringify writes with two spaces, for plain, odd and hand-edited values', () => {
    const routes = Object.fromEntries<unknown>([
      ['web', { serviceName: 'web', servicePath: '/a,/b', users: 'u:"quoted" \\ back', note: 'ünïcødé\n\t' }],
      ['123', { serviceName: '123', port: '1' }],
      ['__proto__', { serviceName: '__proto__', port: '2' }],
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
    const file = { index: 0, routes: {}, certs: {}, acme: { challenges: {} } };
    expect(new StoredJson().bytes(file).toString()).toBe(canonical(file));
  });

  it('gives the new text of a replaced value and the remembered text of a kept one', () => {
    const json = new StoredJson();
    const kept = { serviceName: 'a', port: '1' };
    const first = { index: 1, routes: { a: kept, b: { serviceName: 'b', port: '2' } }, certs: {}, acme: { challenges: {} } };
    expect(json.bytes(first).toString()).toBe(canonical(first));
    const second = { ...first, index: 2, routes: { a: kept, b: { serviceName: 'b', port: '3' } } };
    expect(json.bytes(second).toString()).toBe(canonical(second));
  });
});
