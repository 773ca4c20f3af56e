import { LastRender } from '../src/applier/last-render';
import type { RenderResult } from '../src/render/types';
import { parseRoute } from '../src/route/params';

const route = (serviceName: string, servicePath: string) => parseRoute({ serviceName, servicePath, port: '8080' });
const result: RenderResult = { config: 'rendered', problems: [], maps: [] };
const render = () => result;

describe('LastRender: the last render, for the same routes in any order', () => {
  it('answers for the same routes parsed again, in another order', () => {
    const last = new LastRender();
    last.set(render, false, [route('a', '/a'), route('b', '/b')], result);
    expect(last.get(render, false, [route('b', '/b'), route('a', '/a')])).toBe(result);
  });

  it('does not answer for a changed, added or removed route, other templates or other certificate files', () => {
    const last = new LastRender();
    last.set(render, false, [route('a', '/a'), route('b', '/b')], result);
    expect(last.get(render, false, [route('a', '/a'), route('b', '/c')])).toBeUndefined();
    expect(last.get(render, false, [route('a', '/a'), route('b', '/b'), route('c', '/c')])).toBeUndefined();
    expect(last.get(render, false, [route('a', '/a')])).toBeUndefined();
    expect(last.get(() => result, false, [route('a', '/a'), route('b', '/b')])).toBeUndefined();
    expect(last.get(render, { defaultCert: 'd.pem', crtList: 'c.list' }, [route('a', '/a'), route('b', '/b')])).toBeUndefined();
  });

  it('answers for the routes of the newest render only, after one of them changed', () => {
    const last = new LastRender();
    const changed: RenderResult = { config: 'changed', problems: [], maps: [] };
    last.set(render, false, [route('a', '/a'), route('b', '/b')], result);
    last.set(render, false, [route('a', '/a'), route('b', '/c')], changed);
    expect(last.get(render, false, [route('a', '/a'), route('b', '/c')])).toBe(changed);
    expect(last.get(render, false, [route('a', '/a'), route('b', '/b')])).toBeUndefined();
  });

  it('keeps nothing for two routes of one service (which one a render keeps depends on their order)', () => {
    const last = new LastRender();
    last.set(render, false, [route('a', '/a'), route('a', '/b')], result);
    expect(last.get(render, false, [route('a', '/b'), route('a', '/a')])).toBeUndefined();
    last.set(render, false, [route('a', '/a'), route('b', '/b')], result);
    expect(last.get(render, false, [route('a', '/a'), route('a', '/a')])).toBeUndefined();
  });
});
