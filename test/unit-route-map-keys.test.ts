import { mapKeys } from '../src/render/route-maps';
import { parseRoute } from '../src/route/params';

const keysOf = (params: Record<string, string>) => mapKeys(parseRoute({ serviceName: 'svc', port: '80', ...params }).destinations[0]);

describe('mapKeys: the route map keys of a destination', () => {
  it('gives each path of a route without a domain, and / for one without a path', () => {
    expect(keysOf({ servicePath: '/a,/b' }).keys.map((k) => k.key)).toEqual(['/a', '/b']);
    expect(keysOf({ serviceDomain: 'a.test' }).keys).toEqual([{ host: 'a.test', path: '/', key: 'a.test/' }]);
  });

  it('gives each domain in lower case with each path, domain by domain, in the order given', () => {
    const { exact, keys } = keysOf({ serviceDomain: 'B.test,a.test:8080', servicePath: '/x,/y' });
    expect(exact).toBe(false);
    expect(keys.map((k) => k.key)).toEqual(['b.test/x', 'b.test/y', 'a.test:8080/x', 'a.test:8080/y']);
    expect(keysOf({ serviceDomain: 'a.test', servicePath: '/x', pathType: 'path' }).exact).toBe(true);
  });
});
