/**
 * The proxy bench's TLS material, made at run time with the tests' throw-away CA: one server
 * certificate (ECDSA P-256) for localhost and 127.0.0.1 that the gateway, the h2 floor and nginx
 * all serve, so the handshakes and record crypto cost the same on every TLS target.
 */
import { certDir, createTestCa } from '../tls/test-certificates.js';

/** How a bench client checks a TLS target. */
export interface ClientTls {
  /** PEM of the CA that signed the targets' certificate. */
  readonly ca: string;
  /** SNI the clients send: the certificate's DNS name (an IP address may not be sent as SNI). */
  readonly servername: string;
}

export interface BenchCertificate {
  readonly client: ClientTls;
  readonly certFile: string;
  readonly keyFile: string;
  /** Deletes the files. */
  remove(): void;
}

export async function createBenchCertificate(): Promise<BenchCertificate> {
  const ca = await createTestCa('Northwest Bench CA');
  const server = await ca.issue(['localhost', '127.0.0.1']);
  const dir = certDir();
  const { certFile, keyFile } = dir.write('bench-server', server);
  return { client: { ca: ca.certPem, servername: 'localhost' }, certFile, keyFile, remove: () => dir.remove() };
}
