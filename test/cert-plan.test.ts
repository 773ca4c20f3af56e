import { certPaths } from '../src/certs/cert-files';
import type { Certificate } from '../src/certs/certificate';
import { certFiles, runtimeCertChanges, servingOrder } from '../src/certs/cert-plan';

const cert = (name: string, version = 1): Certificate => ({
  name,
  pem: `${name} v${version}`,
  info: { name, subject: `CN=${name}`, issuer: 'CN=ca', sans: [], notBefore: '', notAfter: '', fingerprint: `${name}${version}` },
});
const names = (certs: readonly Certificate[]) => certs.map((c) => c.name);
const paths = certPaths('/state');
const filesOf = (...certs: Certificate[]) => certFiles(paths, certs);

describe('servingOrder', () => {
  it('puts the configured default first and the rest by name', () => {
    expect(names(servingOrder([cert('c'), cert('a'), cert('b')], 'b'))).toEqual(['b', 'a', 'c']);
  });

  it('uses the first name as the default when none is configured or the configured one is not stored', () => {
    expect(names(servingOrder([cert('c'), cert('a')]))).toEqual(['a', 'c']);
    expect(names(servingOrder([cert('c'), cert('a')], 'missing'))).toEqual(['a', 'c']);
  });
});

describe('certFiles', () => {
  it('puts the default certificate in the default file and each other one in a file of its name', () => {
    expect([...filesOf(cert('a'), cert('b')).entries()]).toEqual([
      ['/state/certs/@default.pem', 'a v1'],
      ['/state/certs/b.pem', 'b v1'],
    ]);
  });
});

describe('runtimeCertChanges', () => {
  it('removes, replaces and adds files, the default one replaced in place', () => {
    const live = filesOf(cert('a'), cert('b'), cert('c'));
    const next = filesOf(cert('a', 2), cert('c'), cert('d'));
    expect(runtimeCertChanges(live, next)).toEqual([
      { kind: 'remove', file: '/state/certs/b.pem' },
      { kind: 'update', file: '/state/certs/@default.pem', pem: 'a v2' },
      { kind: 'add', file: '/state/certs/d.pem', pem: 'd v1' },
    ]);
  });

  it('makes a new default certificate a change of file contents and crt-list lines', () => {
    expect(runtimeCertChanges(filesOf(cert('b'), cert('c')), filesOf(cert('c'), cert('b')))).toEqual([
      { kind: 'remove', file: '/state/certs/c.pem' },
      { kind: 'update', file: '/state/certs/@default.pem', pem: 'c v1' },
      { kind: 'add', file: '/state/certs/b.pem', pem: 'b v1' },
    ]);
  });

  it('has nothing to do when nothing changed', () => {
    expect(runtimeCertChanges(filesOf(cert('a'), cert('b')), filesOf(cert('a'), cert('b')))).toEqual([]);
    expect(runtimeCertChanges(filesOf(), filesOf())).toEqual([]);
  });

  it('leaves to a reload what changes haproxy.cfg: the first and the last certificate', () => {
    expect(runtimeCertChanges(filesOf(), filesOf(cert('a')))).toBeUndefined();
    expect(runtimeCertChanges(filesOf(cert('a')), filesOf())).toBeUndefined();
  });
});
