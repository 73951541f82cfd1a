import { connect, type Socket } from 'node:net';

/** One HTTP/1.x response parsed from raw bytes. */
export interface RawResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Everything a raw connection received before the server closed it. */
export interface RawResult {
  readonly responses: RawResponse[];
  /** Bytes received, as latin1 text. */
  readonly raw: string;
  /** A socket error (ECONNRESET, EPIPE) seen on the way; a reset is a legitimate way to refuse. */
  readonly error: string | undefined;
}

/**
 * Parses consecutive HTTP/1.x responses (Content-Length or chunked framing).
 * A trailing incomplete response is ignored: callers only trust complete ones.
 */
export function parseResponses(buf: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let pos = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd === -1) return out;
    const lines = buf.subarray(pos, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) return out;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', bodyStart);
        if (lineEnd === -1) return out;
        const size = parseInt(buf.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) return out;
        if (size === 0) {
          const end = buf.indexOf('\r\n\r\n', lineEnd);
          if (end === -1) return out;
          bodyStart = end + 4;
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) return out;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
      pos = bodyStart;
    } else {
      const len = Number(headers['content-length'] ?? '0');
      if (buf.length < bodyStart + len) return out;
      body = buf.subarray(bodyStart, bodyStart + len);
      pos = bodyStart + len;
    }
    out.push({ status: Number(m[1]), headers, body: body.toString('utf8') });
  }
}

/**
 * A raw TCP client for requests no well-behaved HTTP client would send.
 * Every socket it opens is tracked so a test's afterEach can destroy leftovers.
 */
export class RawHttpClient {
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
  ) {}

  /** Opens a connection; resolves once connected. */
  open(): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, this.host);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /**
   * Writes `payload` in one go and collects everything until the server
   * closes the connection. We never half-close: node's HTTP server treats a
   * client FIN as an abort. So a request that should succeed must carry
   * `Connection: close`; a refused one is closed by the gateway; a wrongly
   * accepted keep-alive one is closed by the keep-alive timeout (and fails).
   */
  async exchange(payload: string | Buffer): Promise<RawResult> {
    const conn = await this.open();
    conn.write(payload);
    return conn.closed;
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** One raw connection; `closed` resolves when the server (or a reset) ends it. */
export class RawConnection {
  private readonly chunks: Buffer[] = [];
  private error: string | undefined;
  private isClosed = false;
  readonly closed: Promise<RawResult>;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.chunks.push(c));
    socket.on('error', (err: Error & { code?: string }) => {
      this.error ??= err.code ?? err.message;
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        const buf = Buffer.concat(this.chunks);
        resolve({ responses: parseResponses(buf), raw: buf.toString('latin1'), error: this.error });
      });
    });
  }

  /** Whether the connection is gone (closed by the peer or reset). */
  get isGone(): boolean {
    return this.isClosed || this.socket.destroyed || !this.socket.writable;
  }

  /** Responses received so far. */
  received(): RawResponse[] {
    return parseResponses(Buffer.concat(this.chunks));
  }

  /** Writes unless the connection is already gone; returns whether it wrote. */
  write(data: string | Buffer): boolean {
    if (this.isGone) return false;
    this.socket.write(data);
    return true;
  }

  /** Half-closes our side. */
  end(): void {
    if (!this.isGone) this.socket.end();
  }
}
