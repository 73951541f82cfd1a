// A throw-away CA for the TLS tests (test/support re-exports it) and the proxy bench's HTTPS and h2 targets.
// tsyringe (inside @peculiar/x509) needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate and its key, PEM-encoded, with the SHA-256 of its public key (what Chromium's SPKI allow-list takes). */
export interface TestCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** base64(SHA-256(SubjectPublicKeyInfo)). */
  readonly spkiSha256: string;
}

export interface TestCa extends TestCertificate {
  /** A server certificate signed by this CA for the given DNS names and IP addresses (with `clientAuth`, good for clients too). */
  issue(names: readonly string[], opts?: { notAfter?: Date; clientAuth?: boolean }): Promise<TestCertificate>;
}

function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN PRIVATE KEY-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

async function describe(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<TestCertificate> {
  const spki = await webcrypto.subtle.exportKey('spki', keys.publicKey);
  return {
    certPem: cert.toString('pem'),
    keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    spkiSha256: createHash('sha256').update(Buffer.from(spki)).digest('base64'),
  };
}

function keyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

let serial = Date.now();
const nextSerial = (): string => (serial++).toString(16).padStart(16, '0');

/** A throw-away certificate authority for one test run. */
export async function createTestCa(name = 'Northwest Test CA'): Promise<TestCa> {
  const caKeys = await keyPair();
  const notBefore = new Date(Date.now() - DAY_MS);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    keys: caKeys,
    signingAlgorithm: ALG,
    notBefore,
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const self = await describe(ca, caKeys);
  return {
    ...self,
    async issue(names, opts = {}) {
      const keys = await keyPair();
      const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: `CN=${names[0] ?? 'localhost'}`,
        issuer: ca.subject,
        notBefore,
        notAfter: opts.notAfter ?? new Date(Date.now() + 7 * DAY_MS),
        signingKey: caKeys.privateKey,
        publicKey: keys.publicKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            ...(opts.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : []),
          ]),
          new x509.SubjectAlternativeNameExtension(san),
          await x509.AuthorityKeyIdentifierExtension.create(ca),
        ],
      });
      return describe(cert, keys);
    },
  };
}

/** A temporary directory for certificate files; `remove()` deletes it. */
export interface CertDir {
  readonly dir: string;
  /** Writes a certificate's PEM files as <name>.crt and <name>.key; returns their paths. */
  write(name: string, cert: Pick<TestCertificate, 'certPem' | 'keyPem'>): { certFile: string; keyFile: string };
  /** Writes one file (a CA bundle, a broken key) and returns its path. */
  file(name: string, text: string): string;
  remove(): void;
}

export function certDir(): CertDir {
  const dir = mkdtempSync(join(tmpdir(), 'nw-tls-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return {
    dir,
    write: (name, cert) => ({ certFile: file(`${name}.crt`, cert.certPem), keyFile: file(`${name}.key`, cert.keyPem) }),
    file,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
