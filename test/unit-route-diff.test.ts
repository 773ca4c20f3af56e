import { diffFields, diffRoutes } from '../src/applier/route-diff';
import { parseRoute } from '../src/route/params';

/** What the applier logs after a reload: the services it added, changed and removed. */
const route = (name: string, port = '80') => parseRoute({ serviceName: name, servicePath: `/${name}`, port });

describe('diffRoutes', () => {
  it('names the services added, changed (other parameters) and removed', () => {
    const before = [route('kept'), route('moved', '80'), route('gone')];
    const after = [route('kept'), route('moved', '81'), route('new')];
    expect(diffRoutes(before, after)).toEqual({ added: ['new'], changed: ['moved'], removed: ['gone'] });
  });

  it('finds nothing between equal route lists', () => {
    expect(diffRoutes([route('a'), route('b')], [route('a'), route('b')])).toEqual({ added: [], changed: [], removed: [] });
  });

  it('lists at most 20 names of each kind in the log fields, with the counts', () => {
    const after = Array.from({ length: 25 }, (_, i) => route(`r${i}`));
    const fields = diffFields(diffRoutes([], after));
    expect(fields.added).toHaveLength(21);
    expect((fields.added as string[]).at(-1)).toBe('... and 5 more');
    expect(fields.counts).toEqual({ added: 25, changed: 0, removed: 0 });
  });
});
