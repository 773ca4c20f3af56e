import type { Certificate } from '../src/certs/certificate';
import { runtimeCertChanges, servingOrder } from '../src/certs/cert-plan';

const cert = (name: string, version = 1): Certificate => ({
  name,
  pem: `${name} v${version}`,
  info: { name, subject: `CN=${name}`, issuer: 'CN=ca', sans: [], notBefore: '', notAfter: '', fingerprint: `${name}${version}` },
});
const names = (certs: readonly Certificate[]) => certs.map((c) => c.name);

describe('servingOrder', () => {
  it('puts the configured default first and the rest by name', () => {
    expect(names(servingOrder([cert('c'), cert('a'), cert('b')], 'b'))).toEqual(['b', 'a', 'c']);
  });

  it('uses the first name as the default when none is configured or the configured one is not stored', () => {
    expect(names(servingOrder([cert('c'), cert('a')]))).toEqual(['a', 'c']);
    expect(names(servingOrder([cert('c'), cert('a')], 'missing'))).toEqual(['a', 'c']);
  });
});

describe('runtimeCertChanges', () => {
  it('adds, replaces and removes listed certificates and replaces the default in place', () => {
    const live = [cert('a'), cert('b'), cert('c')];
    const next = [cert('a', 2), cert('c'), cert('d'), cert('b', 2)].filter((c) => c.name !== 'b');
    expect(runtimeCertChanges(live, next)).toEqual([
      { kind: 'remove', name: 'b' },
      { kind: 'update', cert: cert('a', 2) },
      { kind: 'add', cert: cert('d') },
    ]);
  });

  it('has nothing to do when nothing changed', () => {
    expect(runtimeCertChanges([cert('a'), cert('b')], [cert('a'), cert('b')])).toEqual([]);
    expect(runtimeCertChanges([], [])).toEqual([]);
  });

  it('leaves to a reload what the Runtime API cannot do: a new default, the first and the last certificate', () => {
    expect(runtimeCertChanges([cert('b')], [cert('a'), cert('b')])).toBeUndefined();
    expect(runtimeCertChanges([], [cert('a')])).toBeUndefined();
    expect(runtimeCertChanges([cert('a')], [])).toBeUndefined();
  });
});
