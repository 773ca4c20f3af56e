import { InvalidParameter, RouteConflict } from '../src/errors';
import { parseRoute, parseServiceName, paramsFromArgs } from '../src/route';

function rejection(input: Record<string, unknown>): { type: string; parameter?: string } {
  try {
    parseRoute(input);
  } catch (error) {
    if (error instanceof InvalidParameter) return { type: 'InvalidParameter', parameter: error.parameter };
    if (error instanceof RouteConflict) return { type: 'RouteConflict' };
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

const base = { serviceName: 'go-demo', servicePath: '/demo', port: '8080' };

describe('parseRoute', () => {
  it('parses the DFP example into a route with defaults', () => {
    const route = parseRoute(base);
    expect(route.serviceName).toBe('go-demo');
    expect(route.aclName).toBe('go-demo');
    expect(route.serviceDomainAlgo).toBe('hdr(host)');
    expect(route.destinations).toEqual([
      {
        index: 0,
        port: 8080,
        srcPort: undefined,
        reqMode: 'http',
        servicePath: ['/demo'],
        serviceDomain: [],
        pathType: 'path_beg',
        outboundHostname: undefined,
        httpsOnly: false,
        redirectWhenHttpProto: false,
      },
    ]);
    expect(route.params).toEqual(base);
  });

  it('keeps only accepted parameters, trimmed, in params (what the store keeps)', () => {
    const route = parseRoute({ ...base, distribute: 'true', servicePath: ' /demo ', serviceDomain: '' });
    expect(route.params).toEqual(base);
  });

  it('gives an equal route when parsing its own params again', () => {
    const route = parseRoute({ ...base, 'port.1': '9000', 'servicePath.1': '/admin', users: 'a:b', addReqHeader: 'X-A 1,X-B two words' });
    expect(parseRoute(route.params)).toEqual(route);
  });

  it('accepts express query shapes: one-element arrays, and numbers and booleans from KV JSON', () => {
    const route = parseRoute({ serviceName: ['go-demo'], servicePath: '/demo', port: 8080, httpsOnly: true });
    expect(route.destinations[0].port).toBe(8080);
    expect(route.destinations[0].httpsOnly).toBe(true);
    expect(route.params).toEqual({ ...base, httpsOnly: 'true' });
  });

  it('refuses a parameter given twice or as an object', () => {
    expect(rejection({ ...base, port: ['1', '2'] })).toEqual({ type: 'InvalidParameter', parameter: 'port' });
    expect(rejection({ ...base, servicePath: { a: '/x' } })).toEqual({ type: 'InvalidParameter', parameter: 'servicePath' });
  });

  it('reads indexed destinations .1 to .10; a destination exists when its port is given', () => {
    const route = parseRoute({ ...base, 'port.1': '9000', 'servicePath.1': '/admin', 'port.10': '9010', 'serviceDomain.10': 'x.test', 'port.11': '1' });
    expect(route.destinations.map((d) => [d.index, d.port, d.servicePath, d.serviceDomain])).toEqual([
      [0, 8080, ['/demo'], []],
      [1, 9000, ['/admin'], []],
      [10, 9010, [], ['x.test']],
    ]);
    expect(route.params['port.11']).toBeUndefined();
  });

  it('names the missing port of an index whose other parameters are given', () => {
    expect(rejection({ ...base, 'servicePath.2': '/x' })).toEqual({ type: 'InvalidParameter', parameter: 'port.2' });
  });

  it('requires serviceName and a port', () => {
    expect(rejection({ servicePath: '/demo', port: '1' })).toEqual({ type: 'InvalidParameter', parameter: 'serviceName' });
    expect(rejection({ serviceName: 'a', servicePath: '/demo' })).toEqual({ type: 'InvalidParameter', parameter: 'port' });
  });

  it('answers RouteConflict for an http route with neither servicePath nor serviceDomain', () => {
    expect(rejection({ serviceName: 'a', port: '1' })).toEqual({ type: 'RouteConflict' });
    expect(rejection({ ...base, 'port.1': '2' })).toEqual({ type: 'RouteConflict' });
  });

  it.each([
    ['serviceName', { ...base, serviceName: 'go demo' }],
    ['serviceName', { ...base, serviceName: 'go/demo' }],
    ['aclName', { ...base, aclName: 'a#b' }],
    ['port', { ...base, port: '80a' }],
    ['port', { ...base, port: '0' }],
    ['port', { ...base, port: '65536' }],
    ['port', { ...base, port: '-1' }],
    ['srcPort', { ...base, reqMode: 'tcp' }],
    ['srcPort.1', { ...base, 'port.1': '1', 'reqMode.1': 'sni', 'serviceDomain.1': 'a.test' }],
    ['reqMode', { ...base, reqMode: 'udp' }],
    ['pathType', { ...base, pathType: 'path_len' }],
    ['serviceDomainAlgo', { ...base, serviceDomainAlgo: 'hdr(host) || 1' }],
    ['servicePath', { ...base, servicePath: '/a b' }],
    ['servicePath', { ...base, servicePath: '/a\r\nbackend evil' }],
    ['servicePath', { ...base, servicePath: 'demo' }],
    ['servicePath', { ...base, pathType: 'path_reg', servicePath: '^/(unclosed' }],
    ['serviceDomain', { ...base, serviceDomain: 'a.test#x' }],
    ['serviceDomain', { ...base, serviceDomain: 'a test' }],
    ['serviceDomain', { ...base, serviceDomain: '*' }],
    ['outboundHostname', { ...base, outboundHostname: 'host name' }],
    ['httpsOnly', { ...base, httpsOnly: 'yes please' }],
    ['timeoutServer', { ...base, timeoutServer: '5s' }],
    ['users', { ...base, users: 'nopassword' }],
    ['users', { ...base, users: 'a b:c' }],
    ['users', { ...base, users: 'a:b\tc' }],
    ['addReqHeader', { ...base, addReqHeader: 'X-Foo' }],
    ['addReqHeader', { ...base, addReqHeader: 'X:Foo bar' }],
    ['setResHeader', { ...base, setResHeader: 'X-Foo bar\nX-Evil: 1' }],
    ['addReqHeader', { ...base, addReqHeader: 'X-Foo %[lua.evil]' }],
    ['delReqHeader', { ...base, delReqHeader: 'X Foo' }],
    ['addResHeader', { ...base, addResHeader: 'X-Path %[path]' }],
    ['reqPathSearch', { ...base, reqPathReplace: '/' }],
    ['reqPathReplace', { ...base, reqPathSearch: '^/demo' }],
    ['reqPathSearch', { ...base, reqPathSearch: '([a-', reqPathReplace: '/' }],
    ['servicePath.1', { ...base, 'port.1': '1', 'servicePath.1': '/x\u0000' }],
  ])('refuses a bad %s', (parameter, input) => {
    expect(rejection(input)).toEqual({ type: 'InvalidParameter', parameter });
  });

  it('accepts DFP booleans in any case', () => {
    expect(parseRoute({ ...base, httpsOnly: 'TRUE' }).destinations[0].httpsOnly).toBe(true);
    expect(parseRoute({ ...base, httpsOnly: 'false' }).destinations[0].httpsOnly).toBe(false);
  });

  it('parses tcp and sni destinations with srcPort', () => {
    const route = parseRoute({ serviceName: 'db', port: '5432', srcPort: '15432', reqMode: 'tcp' });
    expect(route.destinations[0]).toMatchObject({ reqMode: 'tcp', srcPort: 15432, port: 5432 });
  });

  it('parses users, plain or encrypted', () => {
    const route = parseRoute({ ...base, users: 'alice:s3cret,bob:$6$salt$hash', usersPassEncrypted: 'true' });
    expect(route.users).toEqual([
      { name: 'alice', password: 's3cret' },
      { name: 'bob', password: '$6$salt$hash' },
    ]);
    expect(route.usersPassEncrypted).toBe(true);
  });

  it('parses header parameters as csv of "Name value"', () => {
    const route = parseRoute({ ...base, addReqHeader: 'X-Forwarded-Port %[dst_port],X-Note it is 100%', delResHeader: 'Server,X-Powered-By' });
    expect(route.addReqHeader).toEqual(['X-Forwarded-Port %[dst_port]', 'X-Note it is 100%']);
    expect(route.delResHeader).toEqual(['Server', 'X-Powered-By']);
  });

  it('accepts quotes and dollar signs in values that are quoted in the config', () => {
    const route = parseRoute({ ...base, addResHeader: `X-Say it's "quoted" $HOME`, users: `a:p'"$#` });
    expect(route.addResHeader).toEqual([`X-Say it's "quoted" $HOME`]);
    expect(route.users[0].password).toBe(`p'"$#`);
  });
});

describe('paramsFromArgs', () => {
  it('turns name=value arguments into parameters', () => {
    expect(paramsFromArgs(['serviceName=go-demo', 'servicePath=/demo', 'addReqHeader=X-A a=b'])).toEqual({
      serviceName: 'go-demo',
      servicePath: '/demo',
      addReqHeader: 'X-A a=b',
    });
  });

  it('names an argument without "="', () => {
    expect(() => paramsFromArgs(['serviceName'])).toThrow(InvalidParameter);
  });
});

describe('parseServiceName', () => {
  it('accepts the serviceName of a remove request, as a string or a one-element array', () => {
    expect(parseServiceName('go-demo')).toBe('go-demo');
    expect(parseServiceName(['go-demo'])).toBe('go-demo');
  });

  it.each([[undefined], [''], ['go demo'], [['a', 'b']], [{ x: 1 }]])('refuses %p as InvalidParameter naming serviceName', (input) => {
    expect(() => parseServiceName(input)).toThrow(expect.objectContaining({ parameter: 'serviceName' }));
  });
});
