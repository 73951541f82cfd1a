import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { ListenerTlsConfig } from '../config/config-schema.js';
import type { ListenerCertificates } from './certificate-store.js';

/** Where a TLS connection goes once its handshake chose the protocol. */
export interface TlsConnectionHandlers {
  /** ALPN chose http/1.1, or the client offered no ALPN: the listener's HTTP/1.1 engine. */
  http1(socket: TLSSocket): void;
  /** ALPN chose h2. */
  http2(socket: TLSSocket): void;
  /** A handshake failed or timed out (the socket is destroyed here). */
  handshakeFailed(err: Error & { code?: string }): void;
}

export interface TlsListenerOptions {
  /** A handshake not done in this time fails (slow or stalled clients). */
  readonly handshakeTimeoutMs: number;
}

/**
 * One TLS listener: a tls.Server that terminates TLS with the listener's certificates (SNI picks
 * one) and hands each connection, decrypted, to the engine of the protocol ALPN chose. There is
 * one tls.Server per listener whatever the protocol, so HTTP/1.1 over TLS is served by the same
 * engine as plain HTTP/1.1.
 */
export class TlsListener {
  readonly server: Server;
  /** Every TCP connection of this listener, handshaking or handed on (shutdown ends those still open). */
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly certificates: ListenerCertificates,
    http2: boolean,
    opts: TlsListenerOptions,
    handlers: TlsConnectionHandlers,
  ) {
    this.server = createServer({
      ...this.certificates.serverContextOptions(),
      SNICallback: this.certificates.sniCallback,
      ALPNProtocols: http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      handshakeTimeout: opts.handshakeTimeoutMs,
      noDelay: true,
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') handlers.http2(socket);
      else handlers.http1(socket);
    });
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      handlers.handshakeFailed(err);
      socket.destroy();
    });
  }

  /** Ends every connection still open, a handshake not finished included (the engines end theirs first). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Reads the certificates again (from `next` when given) and returns the swap without applying
   * it: throws NW_GW_TLS_CONFIG_INVALID, with nothing changed, if a file is missing or wrong.
   * Open connections keep the certificate they were made with.
   */
  prepareReload(next?: ListenerTlsConfig): () => void {
    const swap = this.certificates.prepare(next);
    return () => {
      swap();
      // Clients that send no SNI (an IP address as the host) get the server's own context.
      this.server.setSecureContext(this.certificates.serverContextOptions());
    };
  }
}
