import { configServers, nameservers, serverChanges } from '../src/applier/server-diff';

const OPTIONS = 'resolvers docker resolve-prefer ipv4 init-addr last,none';

function config(servers: Record<string, string>, extra = ''): string {
  const backends = Object.entries(servers).map(([name, address]) => `backend ${name}-be80\n    mode http\n    server ${name} ${address} ${OPTIONS}\n`);
  return `global\n\nresolvers docker\n    nameserver dns0 127.0.0.11:53\n    hold valid 10s\n\nfrontend http\n    bind :80${extra}\n\n${backends.join('\n')}`;
}

describe('serverChanges: which configs differ only in server addresses', () => {
  it('finds none in equal texts', () => {
    expect(serverChanges(config({ a: '10.0.0.1:80' }), config({ a: '10.0.0.1:80' }))).toEqual([]);
  });

  it('names the backend, server, new and old host of each moved server', () => {
    const live = config({ a: 'a:80', b: '10.0.0.1:80', c: 'c:80' });
    const next = config({ a: 'a:80', b: '10.0.0.2:80', c: 'other.example:80' });
    expect(serverChanges(live, next)).toEqual([
      { backend: 'b-be80', server: 'b', host: '10.0.0.2', port: 80, liveHost: '10.0.0.1', resolvers: 'docker', prefer: 4 },
      { backend: 'c-be80', server: 'c', host: 'other.example', port: 80, liveHost: 'c', resolvers: 'docker', prefer: 4 },
    ]);
  });

  it('finds a moved server in the last line of a text without a final newline', () => {
    const live = config({ a: '10.0.0.1:80' }).trimEnd();
    expect(serverChanges(live, live.replace('10.0.0.1', '10.0.0.9'))).toHaveLength(1);
  });

  it('refuses any other difference: a line, options, a server name, an added server', () => {
    const live = config({ a: '10.0.0.1:80' });
    expect(serverChanges(live, config({ a: '10.0.0.1:80' }, '\n    option forwardfor'))).toBeUndefined();
    expect(serverChanges(live, live.replace('init-addr last,none', 'init-addr none'))).toBeUndefined();
    expect(serverChanges(live, live.replace('server a ', 'server z '))).toBeUndefined();
    expect(serverChanges(live, config({ a: '10.0.0.1:80', b: '10.0.0.2:80' }))).toBeUndefined();
    expect(serverChanges(live, live.replace('10.0.0.1:80 resolvers', '10.0.0.2:80 check resolvers'))).toBeUndefined();
  });

  it('refuses server lines outside backends and server-template lines', () => {
    const peers = 'peers mine\n    server one 10.0.0.1:1024\n';
    expect(serverChanges(`${peers}\n${config({})}`, `${peers.replace('10.0.0.1', '10.0.0.2')}\n${config({})}`)).toBeUndefined();
    const template = 'backend s-be80\n    server-template s_ 2 tasks.s:80 resolvers docker\n';
    expect(serverChanges(template, template.replace('tasks.s', 'tasks.t'))).toBeUndefined();
  });

  it('reads the nameservers of a resolvers section', () => {
    expect(nameservers(config({}), 'docker')).toEqual(['127.0.0.11:53']);
    expect(nameservers(config({}), 'other')).toEqual([]);
  });

  it('lists the server lines of backends only, through comments, blank lines and tab indents, with their resolvers and preference', () => {
    const text = [
      'global',
      '    daemon',
      'peers mine',
      '    server peer 10.0.0.1:1024',
      'backend a-be80',
      '    # server commented 10.0.0.9:1',
      '',
      '\tserver a1 10.0.0.2:80 check',
      '    server-template t_ 2 tasks.t:80',
      '    server   a2 tasks.a:81 resolvers docker resolve-prefer ipv4',
      'frontend f',
      '    server not-a-backend 10.0.0.3:1',
      '# a comment line does not end the section',
      'backend b-be80',
      '    server b1 [::1]:82\r',
      '    server b2 h:83',
    ].join('\n');
    expect(configServers(text)).toEqual([
      { backend: 'a-be80', server: 'a1', host: '10.0.0.2', port: 80, resolvers: undefined, prefer: 6 },
      { backend: 'b-be80', server: 'b2', host: 'h', port: 83, resolvers: undefined, prefer: 6 },
    ]);
    expect(configServers(config({ web: 'tasks.web:80' }))).toEqual([
      { backend: 'web-be80', server: 'web', host: 'tasks.web', port: 80, resolvers: 'docker', prefer: 4 },
    ]);
  });
});
