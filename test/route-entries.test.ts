import { EntryParser, parseEntries } from '../src/route/entries';
import { parseRoute } from '../src/route/params';
import type { RouteParams } from '../src/route/route';
import type { StoreEntry } from '../src/store/route-store';

const entry = (params: RouteParams): StoreEntry => ({ serviceName: params.serviceName, params });
const route = (name: string, port: string): RouteParams => ({ serviceName: name, servicePath: `/${name}`, port });

describe('EntryParser: store entries to routes, validating only what changed', () => {
  /** The real parser, counting the parameter sets it is given. */
  function counting(): { parser: EntryParser; parsed: string[] } {
    const parsed: string[] = [];
    const parser = new EntryParser((params) => {
      parsed.push(params.serviceName);
      return parseRoute(params);
    });
    return { parser, parsed };
  }

  it('gives what parseEntries gives, for valid, invalid and undecodable entries', () => {
    const entries: StoreEntry[] = [
      entry(route('a', '1')),
      entry({ serviceName: 'bad', port: 'x' }),
      { serviceName: 'junk', params: null, error: 'the value is not JSON' },
    ];
    const { parser } = counting();
    expect(parser.entries(entries)).toEqual(parseEntries(entries));
    expect(parser.entries(entries)).toEqual(parseEntries(entries));
  });

  it('validates a changed entry again and keeps the Route of unchanged ones, equal values or the same object', () => {
    const { parser, parsed } = counting();
    const first = parser.entries([entry(route('a', '1')), entry(route('b', '2')), entry(route('c', '3'))]);
    expect(parsed).toEqual(['a', 'b', 'c']);

    parsed.length = 0;
    // b's parameters are a new object with the same values (as the file store decodes them); c changed.
    const second = parser.entries([
      { ...entry(route('a', '1')), params: (first.routes[0] as { params: RouteParams }).params },
      entry(route('b', '2')),
      entry(route('c', '4')),
    ]);
    expect(parsed).toEqual(['c']);
    expect(second.routes[0]).toBe(first.routes[0]);
    expect(second.routes[1]).toBe(first.routes[1]);
    expect(second.routes[2].destinations[0].port).toBe(4);
  });

  it('reports an entry that became invalid, forgets removed ones, and validates a returning one again', () => {
    const { parser, parsed } = counting();
    parser.entries([entry(route('a', '1')), entry(route('b', '2'))]);
    const broken = parser.entries([entry(route('a', '1')), entry({ serviceName: 'b', servicePath: '/b', port: 'not-a-port' })]);
    expect(broken.routes.map((r) => r.serviceName)).toEqual(['a']);
    expect(broken.invalid).toEqual([{ serviceName: 'b', reason: expect.stringContaining('port') }]);

    parser.entries([entry(route('a', '1'))]);
    parsed.length = 0;
    const back = parser.entries([entry(route('a', '1')), entry(route('b', '2'))]);
    expect(parsed).toEqual(['b']);
    expect(back.routes.map((r) => r.serviceName)).toEqual(['a', 'b']);
  });
});
