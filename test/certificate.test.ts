import { InvalidParameter } from '../src/errors';
import { parseCertName, parseCertificate, secondsToExpiry } from '../src/certs/certificate';
import { CertJudge } from '../src/certs/stored-certs';
import { createCa, issueCert, mismatchedPem, TestCa } from './helpers/certs';

let ca: TestCa;

beforeAll(() => {
  ca = createCa();
});

function refusal(action: () => unknown): InvalidParameter {
  try {
    action();
  } catch (error) {
    if (error instanceof InvalidParameter) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('parseCertificate', () => {
  it('accepts a chain and its key and describes the leaf, never the key', () => {
    const issued = issueCert(ca, ['shop.example.com', 'www.shop.example.com'], { days: 30 });
    const cert = parseCertificate('shop', issued.pem, { rejectExpired: true });
    expect(cert.info).toEqual({
      name: 'shop',
      subject: 'CN=shop.example.com',
      issuer: `CN=${ca.name}`,
      sans: ['DNS:shop.example.com', 'DNS:www.shop.example.com'],
      notBefore: expect.any(String),
      notAfter: expect.any(String),
      fingerprint: issued.fingerprint,
    });
    expect(JSON.stringify(cert.info)).not.toMatch(/PRIVATE KEY/);
    const days = secondsToExpiry(cert.info) / 86400;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('accepts a certificate with an empty subject, as ACME CAs issue them (the names are in subjectAltName)', () => {
    const issued = issueCert(ca, ['nocn.example.com'], { commonName: '' });
    const cert = parseCertificate('nocn', issued.pem, { rejectExpired: true });
    expect(cert.info.subject).toBe('');
    expect(cert.info.sans).toEqual(['DNS:nocn.example.com']);
  });

  it('puts the key after the chain whatever order the PEM had, keeping the leaf first', () => {
    const issued = issueCert(ca, ['order.example.com']);
    const cert = parseCertificate('order', `${issued.key}${issued.cert}${ca.cert}`, { rejectExpired: true });
    expect(cert.pem).toBe(`${issued.cert}${ca.cert}${issued.key}`);
  });

  it('accepts CRLF line ends and writes LF', () => {
    const issued = issueCert(ca, ['crlf.example.com']);
    const cert = parseCertificate('crlf', issued.pem.replace(/\n/g, '\r\n'), { rejectExpired: true });
    expect(cert.pem).toBe(issued.pem);
  });

  it('says the PEM does not parse when it holds no certificate, no key, or garbage inside a block', () => {
    const issued = issueCert(ca, ['bad.example.com']);
    expect(refusal(() => parseCertificate('x', 'hello', { rejectExpired: true })).message).toMatch(/^cert: does not parse: no PEM CERTIFICATE/);
    expect(refusal(() => parseCertificate('x', issued.cert, { rejectExpired: true })).message).toMatch(/^cert: does not parse: no PEM PRIVATE KEY/);
    const garbage = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
    expect(refusal(() => parseCertificate('x', `${garbage}${issued.key}`, { rejectExpired: true })).message).toMatch(
      /^cert: does not parse: CERTIFICATE block 1/,
    );
    const badKey = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n';
    const error = refusal(() => parseCertificate('x', `${issued.cert}${badKey}`, { rejectExpired: true }));
    expect(error.parameter).toBe('cert');
    expect(error.message).toMatch(/does not parse: the private key is not a valid PEM key/);
  });

  it('says the key does not match the certificate', () => {
    const error = refusal(() => parseCertificate('x', mismatchedPem(ca, ['mismatch.example.com']), { rejectExpired: true }));
    expect(error.message).toBe('cert: the private key does not match the certificate (the first CERTIFICATE block)');
  });

  it('says the certificate has expired at the gate, and lets the applier keep serving an expired one', () => {
    const expired = issueCert(ca, ['old.example.com'], { days: -1 });
    expect(refusal(() => parseCertificate('old', expired.pem, { rejectExpired: true })).message).toMatch(/^cert: the certificate has expired \(notAfter 20/);
    const kept = parseCertificate('old', expired.pem, { rejectExpired: false });
    expect(secondsToExpiry(kept.info)).toBeLessThan(0);
  });

  it('never quotes key material in an error', () => {
    const issued = issueCert(ca, ['secret.example.com']);
    const other = issueCert(ca, ['secret.example.com']);
    const keyBody = other.key.split('\n')[1];
    const inputs = [`${issued.cert}${other.key}`, `${issued.cert}${issued.key}${other.key}`, issued.key];
    for (const input of inputs) expect(refusal(() => parseCertificate('s', input, { rejectExpired: true })).message).not.toContain(keyBody);
  });
});

describe('CertJudge', () => {
  it('judges a stored text once: the same text again keeps its certificate, even a PEM stored as written (key first, CRLF)', () => {
    const issued = issueCert(ca, ['judge.example.com']);
    const asWritten = `${issued.key}${issued.cert}${ca.cert}`.replace(/\n/g, '\r\n');
    const judge = new CertJudge();
    const first = judge.judge([{ name: 'judge', pem: asWritten }]);
    expect(first.valid[0].info.fingerprint).toBe(issued.fingerprint);
    const again = judge.judge([{ name: 'judge', pem: asWritten }]);
    expect(again.valid[0]).toBe(first.valid[0]);
  });

  it('judges a changed text again: a replacement is served, a broken one left out with why, a repaired one served again', () => {
    const judge = new CertJudge();
    const before = issueCert(ca, ['change.example.com']);
    const after = issueCert(ca, ['change.example.com']);
    expect(judge.judge([{ name: 'change', pem: before.pem }]).valid[0].info.fingerprint).toBe(before.fingerprint);
    expect(judge.judge([{ name: 'change', pem: after.pem }]).valid[0].info.fingerprint).toBe(after.fingerprint);
    const broken = judge.judge([{ name: 'change', pem: 'not a pem' }]);
    expect(broken.valid).toEqual([]);
    expect(broken.invalid).toEqual([{ name: 'change', reason: expect.stringMatching(/does not parse/) }]);
    expect(judge.judge([{ name: 'change', pem: 'not a pem' }]).invalid).toEqual(broken.invalid);
    expect(judge.judge([{ name: 'change', pem: before.pem }]).valid[0].info.fingerprint).toBe(before.fingerprint);
  });

  it('judges a name by its own text: the same PEM under another name is another certificate', () => {
    const issued = issueCert(ca, ['twice.example.com']);
    const judge = new CertJudge();
    judge.judge([{ name: 'one', pem: issued.pem }]);
    const both = judge.judge([
      { name: 'one', pem: issued.pem },
      { name: 'two', pem: issued.pem },
    ]);
    expect(both.valid.map((cert) => cert.name)).toEqual(['one', 'two']);
  });
});

describe('parseCertName', () => {
  it('accepts names made of letters, digits, "_", "." and "-"', () => {
    expect(parseCertName('shop.example.com')).toBe('shop.example.com');
  });

  it('refuses a missing name, a path and a hidden name, naming certName', () => {
    for (const value of [undefined, '', '../etc/passwd', 'a/b', '.hidden', 'a b']) {
      expect(refusal(() => parseCertName(value)).parameter).toBe('certName');
    }
  });
});
