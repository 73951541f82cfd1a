import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ListenerTlsConfig } from '../config/config-schema.js';
import { GatewayError } from '../errors.js';

/** Protocol versions a TLS listener accepts: 1.2 and 1.3 (Node's maximum). */
const MIN_VERSION = 'TLSv1.2';

function fail(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('NW_GW_TLS_CONFIG_INVALID', detail, cause === undefined ? undefined : { cause });
}

function readPem(field: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`${field} (${file}): cannot read: ${(err as Error).message}`, err);
  }
}

/** A certificate pair as read and checked: its PEM text (for the server's own context) and its context. */
interface LoadedPair {
  readonly cert: string;
  readonly key: string;
  readonly context: SecureContext;
}

/** The certificates of one listener at one time; replaced whole on reload. */
interface CertificateSet {
  readonly fallback: LoadedPair;
  /** Exact server names. */
  readonly names: ReadonlyMap<string, SecureContext>;
  /** `*.example.com` keyed by `example.com`: covers one label to its left. */
  readonly wildcards: ReadonlyMap<string, SecureContext>;
}

/**
 * The certificates one TLS listener serves: the default pair and one per SNI name. Files are read
 * and checked here only (parsed, the key matching the certificate, each SNI certificate covering
 * its name); any problem throws NW_GW_TLS_CONFIG_INVALID naming the field and the file. A reload
 * builds a complete new set first and then swaps one reference, so a handshake sees either the
 * old certificates or the new ones, and connections already open keep theirs.
 */
export class ListenerCertificates {
  private current: CertificateSet;
  private config: ListenerTlsConfig;

  constructor(
    config: ListenerTlsConfig,
    /** The config path of this listener's tls section (e.g. `listeners.0.tls`), for errors. */
    readonly field: string,
    /**
     * Session tickets stay valid across reloads (and SNI certificates) because every context gets
     * these keys; a process that shares them (workers) resumes its siblings' sessions too.
     */
    private readonly ticketKeys: Buffer = randomBytes(48),
  ) {
    this.config = config;
    this.current = this.load(config);
  }

  /** Options for the tls.Server's own (default) context: the default pair, with the shared settings. */
  serverContextOptions(): SecureContextOptions {
    return { ...this.commonOptions(), cert: this.current.fallback.cert, key: this.current.fallback.key };
  }

  /** The tls.Server's SNICallback: the context for a server name, the default one for names not configured. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };

  contextFor(servername: string): SecureContext {
    const set = this.current;
    const name = servername.toLowerCase();
    const exact = set.names.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 ? set.wildcards.get(name.slice(dot + 1)) : undefined) ?? set.fallback.context;
  }

  /**
   * Reads and checks every file again (those of `next`, when the config changed) and returns the
   * swap, without changing anything yet: the caller swaps only once every listener's files passed.
   */
  prepare(next: ListenerTlsConfig = this.config): () => void {
    const set = this.load(next);
    return () => {
      this.current = set;
      this.config = next;
    };
  }

  private commonOptions(): SecureContextOptions {
    return { minVersion: MIN_VERSION, ticketKeys: this.ticketKeys };
  }

  private load(config: ListenerTlsConfig): CertificateSet {
    const fallback = this.pair(this.field, config);
    const names = new Map<string, SecureContext>();
    const wildcards = new Map<string, SecureContext>();
    for (const [name, pair] of Object.entries(config.sni)) {
      const field = `${this.field}.sni["${name}"]`;
      const loaded = this.pair(field, pair, name);
      if (name.startsWith('*.')) wildcards.set(name.slice(2), loaded.context);
      else names.set(name, loaded.context);
    }
    return { fallback, names, wildcards };
  }

  private pair(field: string, files: { certFile: string; keyFile: string }, serverName?: string): LoadedPair {
    const cert = readPem(`${field}.certFile`, files.certFile);
    const key = readPem(`${field}.keyFile`, files.keyFile);
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      throw fail(`${field}.certFile (${files.certFile}): not a PEM certificate: ${(err as Error).message}`, err);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw fail(`${field}.keyFile (${files.keyFile}): not an unencrypted PEM private key: ${(err as Error).message}`, err);
    }
    if (!x509.checkPrivateKey(privateKey))
      throw fail(`${field}.keyFile (${files.keyFile}): is not the key of the certificate in ${files.certFile}`);
    // A wildcard entry is checked with a name of the shape it stands for.
    const probe = serverName?.startsWith('*.') ? `sni-check${serverName.slice(1)}` : serverName;
    if (probe !== undefined && x509.checkHost(probe) === undefined)
      throw fail(`${field}.certFile (${files.certFile}): the certificate does not cover ${serverName}`);
    try {
      return { cert, key, context: createSecureContext({ ...this.commonOptions(), cert, key }) };
    } catch (err) {
      throw fail(`${field} (${files.certFile}, ${files.keyFile}): ${(err as Error).message}`, err);
    }
  }
}
