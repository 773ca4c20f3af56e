import { InvalidParameter } from '../src/errors';
import { flagParam, optionalServiceName, wholeNumberParam } from '../src/route/flags';

/** The API's own parameters go through route/ with the route parameters' rules. */
describe('flagParam', () => {
  it.each([
    ['true', true],
    ['1', true],
    ['T', true],
    ['false', false],
    ['0', false],
    ['', false],
    [undefined, false],
    [true, true],
    [['1'], true],
  ])('reads distribute=%p as %p, like httpsOnly', (value, expected) => {
    expect(flagParam({ distribute: value }, 'distribute')).toBe(expected);
  });

  it.each([['yes'], ['2'], [['true', 'false']], [{ a: 1 }]])('refuses distribute=%p as InvalidParameter naming it', (value) => {
    expect(() => flagParam({ distribute: value }, 'distribute')).toThrow(expect.objectContaining({ parameter: 'distribute' }));
  });
});

describe('wholeNumberParam', () => {
  it('reads a whole number, and the fallback when absent or empty', () => {
    expect(wholeNumberParam({ index: '42' }, 'index', 0, 100)).toBe(42);
    expect(wholeNumberParam({}, 'index', 7, 100)).toBe(7);
    expect(wholeNumberParam({ index: '' }, 'index', 7, 100)).toBe(7);
  });

  it.each([['-1'], ['1.5'], ['abc'], ['101']])('refuses waitMs=%p naming it', (value) => {
    expect(() => wholeNumberParam({ waitMs: value }, 'waitMs', 0, 100)).toThrow(InvalidParameter);
    expect(() => wholeNumberParam({ waitMs: value }, 'waitMs', 0, 100)).toThrow(/^waitMs: /);
  });
});

describe('optionalServiceName', () => {
  it('is undefined when absent, the name when valid, and refuses a name that could not be stored', () => {
    expect(optionalServiceName({})).toBeUndefined();
    expect(optionalServiceName({ serviceName: 'go-demo' })).toBe('go-demo');
    expect(() => optionalServiceName({ serviceName: 'go demo' })).toThrow(expect.objectContaining({ parameter: 'serviceName' }));
  });
});
