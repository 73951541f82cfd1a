import type { Socket } from 'node:net';
import type { RawRequest } from './raw-request.js';

/** How the response body is framed toward the client. */
export type Framing = 'length' | 'chunked' | 'none';

/**
 * The reply to one request the raw engine serves, whatever carries it: an HTTP/1.1 connection of
 * the engine's own (RawResponse) or an HTTP/2 stream (H2Reply). The engine and the upstream call
 * write through this alone, so both protocols get the same routing, header policy, write
 * accounting and errors.
 */
export interface ClientReply {
  readonly req: RawRequest;
  /** The connection the request came on (its peer address and whether it was decrypted here). */
  readonly socket: Socket;
  readonly headersSent: boolean;
  readonly finished: boolean;
  /** The client went away (or its stream was reset) before this reply finished. */
  readonly gone: boolean;
  readonly status: number;
  /** Body bytes written: the access log's `bytes`. */
  readonly bytesSent: number;
  /** Set when the client was cut because it took nothing of the reply for the send timeout. */
  readonly sendStalled: boolean;
  /** From the request going upstream to the upstream's response head: the access log's `upstreamMs`. */
  upstreamMs: number | undefined;
  /** Called when the client can take more after write() returned false. */
  onDrain: (() => void) | undefined;
  /** Called once if the client goes away before the reply finished. */
  onGone: (() => void) | undefined;
  /** Called once when the reply is over: finished, or its client gone. */
  onDone: ((res: ClientReply) => void) | undefined;
  /** Status and headers (`list`: name, value, ...), sent with the first body bytes or end(). */
  writeHead(status: number, list: readonly string[], framing: Framing): void;
  /**
   * Body bytes; false when the client's buffer is full (wait for onDrain). `lent`: the bytes are
   * only valid during this call (an upstream socket's read buffer): a reply that keeps them copies them.
   */
  write(chunk: Buffer, lent?: boolean): boolean;
  end(last?: Buffer | string): void;
  /** Cuts the reply short: the client sees it end early. */
  destroy(): void;
  /** A write a fence held goes on in the raw engine: its body is read from here. */
  proceed(): void;
  /** A write a fence held goes to the node engine, with its connection or stream. */
  handOver(): void;
}
