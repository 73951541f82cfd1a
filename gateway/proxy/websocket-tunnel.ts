import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { request as requestTls } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import { buildClientHeaders, type HeaderMap } from './forward-headers.js';
import { endWithError, endWithResponse } from './raw-response.js';
import { toUpstreamError } from './upstream-errors.js';
import { upstreamTlsOptions, type UpstreamTls } from '../tls/upstream-tls.js';
import { closeFrame, FrameBoundaries } from './websocket-frames.js';

/** Why the gateway ends a WebSocket, the close code the client gets (RFC 6455 §7.4), and the refusal if it was not open yet. */
export const GATEWAY_CLOSES = {
  /** A new state forbids the deployment: "Service Restart", the client reconnects and reaches the side the app is on now. */
  state: { code: 1012, text: 'the app moved; reconnect', refusal: 'NW_GW_WEBSOCKET_ROUTE_CHANGED' },
  /** The write guard (lease) refused a message: "Try Again Later". */
  lease: { code: 1013, text: 'try again later', refusal: 'NW_GW_LEASE_EXPIRED' },
  shutdown: { code: 1001, text: 'gateway shutting down', refusal: 'NW_GW_SHUTTING_DOWN' },
} as const;

export type GatewayCloseReason = keyof typeof GATEWAY_CLOSES;
/** Who ended a tunnel: the gateway (for one of its reasons), the client, the upstream, or a failed handshake. */
export type TunnelCloseReason = GatewayCloseReason | 'client' | 'upstream' | 'failed';

/** How long either side gets to finish a close the gateway started before its socket is destroyed. */
export const CLOSE_TIMEOUT_MS = 1000;

export interface TunnelHooks {
  /** The upstream accepted the upgrade and the 101 went to the client. */
  opened(): void;
  /** The handshake failed (the client got an error reply). */
  failed(err: GatewayError): void;
  /**
   * The connection to the upstream is gone: it closed after reading everything sent on it, or
   * (`outcomeUnknown`) it was destroyed or reset, so bytes sent last may still be on their way.
   */
  upstreamClosed(outcomeUnknown: boolean): void;
  /** Both sides are closed. */
  closed(reason: TunnelCloseReason): void;
}

export interface TunnelOptions {
  readonly origin: string;
  /** Set for an https:// upstream: the CA and name its certificate is checked with. */
  readonly tls?: UpstreamTls | undefined;
  readonly path: string;
  readonly headers: HeaderMap;
  readonly requestId: string;
  readonly handshakeTimeoutMs: number;
  /** Checked before each chunk from the client goes upstream (a WebSocket carries writes); an error closes the tunnel. */
  readonly mayWrite: () => GatewayError | undefined;
  readonly hooks: TunnelHooks;
}

type Phase = 'handshake' | 'open' | 'closing' | 'closed';

/** Bodies of an upstream's refusal (e.g. a 401 instead of the 101) are passed on up to this size. */
const REFUSAL_BODY_BYTES = 64 * 1024;

/**
 * One WebSocket tunnelled to an upstream as raw bytes. The gateway owns the
 * relay (not a pipe) so it can stop forwarding the client's bytes at once,
 * check the write guard per chunk, and end the socket with a proper close
 * frame in each direction, put between two frames (FrameBoundaries). Framing
 * is left alone otherwise: extensions, fragmentation, pings and backpressure
 * stay end to end, which terminating the socket with `ws` on both sides
 * would not keep.
 */
export class WebSocketTunnel {
  private phase: Phase = 'handshake';
  private readonly upstreamReq: ClientRequest;
  private upstream: Socket | undefined;
  private readonly fromClient = new FrameBoundaries();
  private readonly fromUpstream = new FrameBoundaries();
  /** Who ended it, once someone did. */
  private reason: TunnelCloseReason | undefined;
  /** Set when the gateway closes an open socket. */
  private gatewayClose: GatewayCloseReason | undefined;
  /** The gateway's close frame to the client waits for the frame the upstream is in the middle of. */
  private awaitingBoundary = false;
  private clientGone = false;
  private upstreamGone = false;
  private upstreamForced = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Duplex,
    private readonly clientHead: Buffer,
    private readonly opts: TunnelOptions,
  ) {
    const url = new URL(opts.origin);
    const target = {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (opts.tls === undefined ? 80 : 443),
      method: 'GET',
      path: opts.path,
      headers: opts.headers,
      agent: false as const,
    };
    this.upstreamReq = opts.tls === undefined ? request(target) : requestTls({ ...target, ...upstreamTlsOptions(target.host, opts.tls) });
    this.upstreamReq.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => this.open(res, socket, head));
    this.upstreamReq.on('response', (res: IncomingMessage) => this.upstreamRefused(res));
    this.upstreamReq.on('error', (err) => this.fail(toUpstreamError(err, opts.origin)));
    this.timer = setTimeout(
      () => this.fail(new GatewayError('NW_GW_UPSTREAM_HEADERS_TIMEOUT', `${opts.origin} (websocket handshake)`)),
      opts.handshakeTimeoutMs,
    );
    this.timer.unref();
    client.on('error', () => client.destroy());
    client.on('close', () => this.clientClosed());
    this.upstreamReq.end();
  }

  /** Ends the socket for `reason`: a close frame to both sides; nothing more from the client goes upstream. */
  close(reason: GatewayCloseReason): void {
    const spec = GATEWAY_CLOSES[reason];
    if (this.phase === 'handshake') {
      this.reason = reason;
      this.abortHandshake();
      endWithError(this.client, new GatewayError(spec.refusal, undefined, { retryAfterSeconds: 1 }), this.opts.requestId);
      return;
    }
    if (this.phase !== 'open') return;
    this.phase = 'closing';
    this.reason = reason;
    this.gatewayClose = reason;
    const upstream = this.upstream!;
    // A client frame cut short is dropped by the app; a close frame after it would be read as its payload.
    if (this.fromClient.atBoundary) upstream.write(closeFrame(spec.code, spec.text, true));
    upstream.end();
    upstream.resume();
    this.client.resume();
    if (this.fromUpstream.atBoundary) this.sendClientClose();
    else this.awaitingBoundary = true;
    this.armTimer();
  }

  /** Drops both sides at once (the end of a shutdown); the upstream's last bytes count as of unknown outcome. */
  destroy(): void {
    if (!this.upstreamGone) this.upstreamForced = true;
    if (this.phase === 'handshake') this.abortHandshake();
    this.upstream?.destroy();
    this.client.destroy();
  }

  private sendClientClose(): void {
    const spec = GATEWAY_CLOSES[this.gatewayClose!];
    this.awaitingBoundary = false;
    this.client.end(closeFrame(spec.code, spec.text, false));
  }

  /** Ends the client side after the upstream's: cleanly, unless it stopped in the middle of a frame. */
  private endClient(): void {
    if (this.awaitingBoundary) {
      this.awaitingBoundary = false;
      this.client.destroy();
    } else if (!this.client.writableEnded) {
      this.client.end();
    }
  }

  /** Starts the deadline for whatever is still open once one side has begun to close. */
  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.upstreamGone) this.upstreamForced = true;
      this.upstream?.destroy();
      this.client.destroy();
    }, CLOSE_TIMEOUT_MS);
    this.timer.unref();
  }

  private open(res: IncomingMessage, upstream: Socket, upstreamHead: Buffer): void {
    this.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', (hadError: boolean) => this.upstreamClosed(hadError));
    if (this.phase !== 'handshake') {
      upstream.destroy();
      return;
    }
    clearTimeout(this.timer);
    this.phase = 'open';
    upstream.setNoDelay(true);
    (this.client as Partial<Socket>).setNoDelay?.(true);
    let head = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\n';
    if (res.headers.upgrade) head += `upgrade: ${res.headers.upgrade}\r\n`;
    for (const [name, value] of Object.entries(buildClientHeaders(res.headers)))
      for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
    this.client.write(Buffer.from(`${head}\r\n`, 'latin1'));
    this.opts.hooks.opened();
    upstream.on('data', (chunk: Buffer) => this.upstreamData(chunk));
    upstream.on('end', () => this.upstreamEnded());
    upstream.on('drain', () => this.client.resume());
    this.client.on('data', (chunk: Buffer) => this.clientData(chunk));
    this.client.on('end', () => this.clientEnded());
    this.client.on('drain', () => upstream.resume());
    if (upstreamHead.length > 0) this.upstreamData(upstreamHead);
    if (this.clientHead.length > 0) this.clientData(this.clientHead);
  }

  private clientData(chunk: Buffer): void {
    if (this.phase !== 'open') return;
    const refused = this.opts.mayWrite();
    if (refused) {
      this.close('lease');
      return;
    }
    this.fromClient.consume(chunk);
    if (!this.upstream!.write(chunk)) this.client.pause();
  }

  private upstreamData(chunk: Buffer): void {
    if (this.gatewayClose === undefined) {
      if (this.client.writableEnded) return;
      this.fromUpstream.consume(chunk);
      if (!this.client.write(chunk)) this.upstream!.pause();
      return;
    }
    // The gateway is closing: the frame the client is in the middle of is finished, then the close frame; the rest is dropped.
    if (!this.awaitingBoundary) return;
    const n = this.fromUpstream.consume(chunk, true);
    if (n > 0) this.client.write(chunk.subarray(0, n));
    if (this.fromUpstream.atBoundary) this.sendClientClose();
  }

  private clientEnded(): void {
    if (this.phase !== 'open') return;
    this.phase = 'closing';
    this.reason = 'client';
    this.upstream!.end();
    this.armTimer();
  }

  private upstreamEnded(): void {
    if (this.phase === 'open') {
      this.phase = 'closing';
      this.reason = 'upstream';
      this.armTimer();
    }
    this.endClient();
  }

  private clientClosed(): void {
    this.clientGone = true;
    if (this.phase === 'handshake') {
      this.reason = 'client';
      this.abortHandshake();
    } else if (this.phase === 'open') {
      this.phase = 'closing';
      this.reason = 'client';
      this.upstream!.end();
      this.armTimer();
    }
    this.settle();
  }

  private upstreamClosed(hadError: boolean): void {
    if (this.upstreamGone) return;
    this.upstreamGone = true;
    this.opts.hooks.upstreamClosed(this.upstreamForced || hadError);
    if (this.phase === 'open') {
      this.phase = 'closing';
      this.reason = 'upstream';
      this.armTimer();
    }
    if (this.phase === 'closing') this.endClient();
    this.settle();
  }

  /** A handshake that will not complete: nothing of the client's went upstream yet. */
  private abortHandshake(): void {
    this.phase = 'closing';
    clearTimeout(this.timer);
    this.upstreamReq.destroy();
    this.upstream?.destroy();
    if (!this.upstreamGone) {
      this.upstreamGone = true;
      this.opts.hooks.upstreamClosed(false);
    }
    this.settle();
  }

  private fail(err: GatewayError): void {
    if (this.phase !== 'handshake') return;
    this.reason = 'failed';
    this.abortHandshake();
    this.opts.hooks.failed(err);
    endWithError(this.client, new GatewayError('NW_GW_WEBSOCKET_FAILED', this.opts.origin, { cause: err }), this.opts.requestId);
  }

  /** The upstream answered the upgrade with an ordinary response (e.g. 401): the client gets it as it is. */
  private upstreamRefused(res: IncomingMessage): void {
    if (this.phase !== 'handshake') {
      res.destroy();
      return;
    }
    clearTimeout(this.timer);
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > REFUSAL_BODY_BYTES) res.destroy(new GatewayError('NW_GW_UPSTREAM_PROTOCOL', 'refusal body too large'));
      else chunks.push(c);
    });
    res.on('error', (err) => this.fail(toUpstreamError(err, this.opts.origin)));
    res.on('end', () => {
      if (this.phase !== 'handshake') return;
      this.reason = 'upstream';
      this.abortHandshake();
      endWithResponse(this.client, res.statusCode ?? 502, buildClientHeaders(res.headers), Buffer.concat(chunks));
    });
  }

  private settle(): void {
    if (this.phase === 'closed' || !this.clientGone || !this.upstreamGone) return;
    this.phase = 'closed';
    clearTimeout(this.timer);
    this.opts.hooks.closed(this.reason ?? 'client');
  }
}
