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
        pathRewrites: [],
        allowedMethods: [],
        deniedMethods: [],
        denyHttp: false,
        serviceHeader: [],
        userAgent: [],
        servicePathExclude: [],
        redirectFromDomain: [],
        httpsRedirectCode: undefined,
        httpsPort: undefined,
        timeoutClient: undefined,
        checkTcp: false,
        verifyClientSsl: false,
        sslVerifyNone: false,
        sslVerify: false,
        ignoreAuthorization: false,
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

  it('reads indexed destinations .1 to .10, which inherit the unsuffixed parameters as defaults', () => {
    const route = parseRoute({ ...base, serviceDomain: 'a.test', 'port.1': '9000', 'servicePath.1': '/admin', 'serviceDomain.10': 'x.test', 'port.11': '1' });
    expect(route.destinations.map((d) => [d.index, d.port, d.servicePath, d.serviceDomain])).toEqual([
      [1, 9000, ['/admin'], ['a.test']],
      [10, 8080, ['/demo'], ['x.test']],
    ]);
    expect(route.params['port.11']).toBeUndefined();
  });

  it('asks for a certificate (letsencrypt=true) for the domains of every http destination, without ports, each once', () => {
    expect(parseRoute({ ...base, serviceDomain: 'Shop.test:8080,www.shop.test', letsencrypt: 'true' }).acmeDomains).toEqual(['shop.test', 'www.shop.test']);
    const indexed = { ...base, letsencrypt: 'true', 'port.1': '9000', 'serviceDomain.1': 'a.test', 'port.2': '9001', 'serviceDomain.2': 'b.test,a.test' };
    expect(parseRoute(indexed).acmeDomains).toEqual(['a.test', 'b.test']);
    expect(parseRoute({ ...base, serviceDomain: 'shop.test' }).acmeDomains).toEqual([]);
  });

  it('refuses letsencrypt=true for a wildcard domain or without a domain, naming letsencrypt', () => {
    expect(rejection({ ...base, serviceDomain: '*.shop.test', letsencrypt: 'true' })).toEqual({ type: 'InvalidParameter', parameter: 'letsencrypt' });
    expect(rejection({ ...base, letsencrypt: 'true' })).toEqual({ type: 'InvalidParameter', parameter: 'letsencrypt' });
    expect(rejection({ ...base, serviceDomain: 'shop.test', letsencrypt: 'maybe' })).toEqual({ type: 'InvalidParameter', parameter: 'letsencrypt' });
  });

  it('names the missing port of an index (or of the defaults) when no port is given', () => {
    expect(rejection({ serviceName: 'a', 'servicePath.2': '/x' })).toEqual({ type: 'InvalidParameter', parameter: 'port.2' });
    expect(rejection({ ...base, 'httpsOnly.3': 'true' })).toEqual({ type: 'InvalidParameter', parameter: 'port.3' });
  });

  it('requires serviceName and a port', () => {
    expect(rejection({ servicePath: '/demo', port: '1' })).toEqual({ type: 'InvalidParameter', parameter: 'serviceName' });
    expect(rejection({ serviceName: 'a', servicePath: '/demo' })).toEqual({ type: 'InvalidParameter', parameter: 'port' });
  });

  it('answers RouteConflict for an http route with neither servicePath nor serviceDomain', () => {
    expect(rejection({ serviceName: 'a', port: '1' })).toEqual({ type: 'RouteConflict' });
    expect(rejection({ serviceName: 'a', port: '1', 'port.1': '2' })).toEqual({ type: 'RouteConflict' });
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
    ['serviceDomain', { ...base, serviceDomain: 'a.test#x' }],
    ['serviceDomain', { ...base, serviceDomain: 'a test' }],
    ['serviceDomain', { ...base, serviceDomain: '*' }],
    ['outboundHostname', { ...base, outboundHostname: 'host name' }],
    ['httpsOnly', { ...base, httpsOnly: 'yes please' }],
    ['timeoutServer', { ...base, timeoutServer: '5s' }],
    ['users', { ...base, users: ':nouser' }],
    ['users', { ...base, users: 'empty:' }],
    ['usersSecret', { ...base, usersSecret: '../etc' }],
    ['users', { ...base, users: 'a b:c' }],
    ['users', { ...base, users: 'a:b\tc' }],
    ['addReqHeader', { ...base, addReqHeader: 'X-Foo' }],
    ['addReqHeader', { ...base, addReqHeader: 'X:Foo bar' }],
    ['setResHeader', { ...base, setResHeader: 'X-Foo bar\nX-Evil: 1' }],
    ['delReqHeader', { ...base, delReqHeader: 'X Foo' }],
    ['reqPathSearch', { ...base, reqPathReplace: '/' }],
    ['reqPathReplace', { ...base, reqPathSearch: '^/demo' }],
    ['reqPathSearch', { ...base, reqPathSearch: '^/a\r\nbackend evil', reqPathReplace: '/' }],
    ['reqPathSearchReplace', { ...base, reqPathSearchReplace: '^/a' }],
    ['reqPathSearchReplace', { ...base, reqPathSearchReplace: '^/a,/b:^/c,/d\u0000' }],
    ['servicePath.1', { ...base, 'port.1': '1', 'servicePath.1': '/x\u0000' }],
    ['allowedMethods', { ...base, allowedMethods: 'GET,PO ST' }],
    ['deniedMethods.1', { ...base, 'port.1': '1', 'deniedMethods.1': 'GET;' }],
    ['denyHttp', { ...base, denyHttp: 'maybe' }],
    ['serviceHeader', { ...base, serviceHeader: 'X-Version=3' }],
    ['userAgent', { ...base, userAgent: 'bot\r\nx' }],
    ['servicePathExclude', { ...base, servicePathExclude: 'private' }],
    ['redirectFromDomain', { ...base, redirectFromDomain: 'a b' }],
    ['httpsRedirectCode', { ...base, httpsRedirectCode: '200' }],
    ['httpsPort', { ...base, httpsPort: '70000' }],
    ['timeoutClient', { ...base, timeoutClient: '1m' }],
    ['backendExtra', { ...base, backendExtra: 'option x\nserver evil 1.2.3.4:80' }],
    ['compressionAlgo', { ...base, compressionAlgo: 'brotli' }],
    ['compressionAlgo', { ...base, compressionType: 'text/html' }],
    ['compressionType', { ...base, compressionAlgo: 'gzip', compressionType: 'html' }],
    ['connectionMode', { ...base, connectionMode: 'close' }],
    ['sessionType', { ...base, sessionType: 'sticky-cookie' }],
    ['replicas', { ...base, replicas: '-1' }],
  ])('refuses a bad %s', (parameter, input) => {
    expect(rejection(input)).toEqual({ type: 'InvalidParameter', parameter });
  });

  it('reads DFP suffixed parameters with unsuffixed defaults, and the older header names', () => {
    const route = parseRoute({ ...base, allowedMethods: 'GET', 'port.1': '1', 'port.2': '2', 'allowedMethods.2': 'PUT', addHeader: 'X-A 1' });
    expect(route.destinations.map((d) => d.allowedMethods)).toEqual([['GET'], ['PUT']]);
    expect(route.addReqHeader).toEqual(['X-A 1']);
    expect(parseRoute({ ...base, connectionMode: 'forceclose' }).connectionMode).toBe('httpclose');
    const timeouts = parseRoute({ ...base, timeoutServer: '30', 'port.1': '1', 'port.2': '2', 'timeoutServer.2': '90', 'sslVerifyNone.1': 'true' });
    expect(timeouts.destinations.map((d) => [d.timeoutServer, d.sslVerifyNone])).toEqual([
      [30, true],
      [90, false],
    ]);
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

  it('accepts regexes PCRE knows and JavaScript does not; HAProxy judges them', () => {
    const route = parseRoute({ ...base, reqPathSearch: '(?<=/a)b++', reqPathReplace: '/x', reqPathSearchReplace: '^/re5\\-v1/(.*),/\\1:^/b,/c' });
    expect(route.destinations[0].pathRewrites).toEqual([
      { search: '(?<=/a)b++', replace: '/x' },
      { search: '^/re5\\-v1/(.*)', replace: '/\\1' },
      { search: '^/b', replace: '/c' },
    ]);
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
