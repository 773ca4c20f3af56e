import { InvalidSetting } from '../src/errors';
import { parseConsulAddress } from '../src/settings';

/** CONSUL_ADDRESS items -> the base URLs the Consul client talks to. */
describe('parseConsulAddress', () => {
  it.each([
    ['127.0.0.1', 'http://127.0.0.1:8500'],
    ['127.0.0.1:8501', 'http://127.0.0.1:8501'],
    ['consul', 'http://consul:8500'],
    ['http://consul:8500', 'http://consul:8500'],
    ['http://consul:8500/', 'http://consul:8500'],
    ['https://consul', 'https://consul:443'],
    ['HTTPS://Consul.Example:9000', 'https://consul.example:9000'],
    ['[::1]:8500', 'http://[::1]:8500'],
    ['http://[::1]', 'http://[::1]:8500'],
  ])('reads %p as %p', (input, expected) => {
    expect(parseConsulAddress(input)).toBe(expected);
  });

  it.each([
    ['ftp://consul:21', /only http and https/],
    ['http://consul:8500/v1', /must not have a path/],
    ['http://', /not a valid address/],
    ['consul:notaport', /not a valid address/],
  ])('refuses %p, naming CONSUL_ADDRESS', (input, reason) => {
    expect(() => parseConsulAddress(input)).toThrow(InvalidSetting);
    expect(() => parseConsulAddress(input)).toThrow(reason);
    expect(() => parseConsulAddress(input)).toThrow(/^CONSUL_ADDRESS: /);
  });
});
