import type { Socket } from 'node:net';

/** How long a closing connection keeps reading what the client still sends: between reads, and in all (nginx: 5 s, 30 s). */
export const LINGER_IDLE_MS = 5000;
export const LINGER_MAX_MS = 30_000;

function drop(): void {}

/**
 * Closes a client connection after its last reply as nginx's lingering_close does: half-closed,
 * then read, and whatever comes dropped (no parser sees it: no request after this one is served),
 * until the client closes too or LINGER_IDLE_MS pass without a byte (LINGER_MAX_MS in all).
 * Closing a socket with unread bytes makes the kernel send a reset, and a reset can take the reply
 * with it before the client has read it: the client still sending a body when its early reply
 * (413, 503, a redirect) goes out would see the connection reset instead.
 */
export function closeLingering(socket: Socket): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', drop);
  socket.end();
  socket.resume();
  socket.setTimeout(LINGER_IDLE_MS, () => socket.destroy());
  const cap = setTimeout(() => socket.destroy(), LINGER_MAX_MS);
  cap.unref();
  socket.once('close', () => clearTimeout(cap));
}
