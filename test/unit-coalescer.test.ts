import { Coalescer } from '../src/applier/coalescer';

/** The coalescer's timing decisions, on Jest's fake clock (no real waiting). */
describe('Coalescer', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  function coalescer(quietMs: number, maxDelayMs: number, idle: () => boolean = () => false) {
    const fired: number[] = [];
    return { fired, c: new Coalescer(quietMs, maxDelayMs, (firstAt) => fired.push(firstAt), idle) };
  }

  it('applies a change that finds the applier idle at once, gathering the changes of the same tick', () => {
    const { fired, c } = coalescer(100, 1000, () => true);
    c.touch();
    c.touch();
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(0);
    expect(fired).toEqual([1_000_000]);
  });

  it('while busy, waits until no change came for quietMs', () => {
    const { fired, c } = coalescer(100, 1000);
    c.touch();
    jest.advanceTimersByTime(60);
    c.touch();
    jest.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fired).toEqual([1_000_000]);
  });

  it('never waits longer than maxDelayMs after the first change of a constant stream', () => {
    const { fired, c } = coalescer(100, 250);
    for (let i = 0; i < 4; i++) {
      c.touch();
      jest.advanceTimersByTime(50);
    }
    expect(fired).toEqual([]);
    // quietMs alone would wait until 300 ms; maxDelayMs says 250.
    c.touch();
    jest.advanceTimersByTime(49);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fired).toEqual([1_000_000]);
  });

  it('starts a new window after firing, and cancel() forgets a pending change', () => {
    const { fired, c } = coalescer(100, 1000);
    c.touch();
    jest.advanceTimersByTime(100);
    c.touch();
    c.cancel();
    jest.advanceTimersByTime(1000);
    expect(fired).toEqual([1_000_000]);
  });
});
