import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { AdminContext } from './app-admin.js';
import { KEY_PATTERN, MAX_KEY_LENGTH } from './app-errors.js';
import { CommitLog } from './commit-log.js';
import { putRecorded } from './put-recorded.js';

const WsWrite = z.strictObject({
  id: z.string().min(1).max(128),
  key: z.string().min(1).max(MAX_KEY_LENGTH).regex(KEY_PATTERN),
  value: z.string().max(64 * 1024),
});

/** Sent back for every message: `ok` with the key's new version, or why not. */
export type WsWriteReply =
  | { readonly id: string; readonly ok: true; readonly key: string; readonly version: number; readonly deployment: string }
  | { readonly id: string | undefined; readonly ok: false; readonly error: string };

/**
 * Writes over a WebSocket at /ws: each text message `{"id", "key", "value"}` is a PUT of that key,
 * answered with {"id", "ok": true, "version", "deployment"}. A long-lived socket keeps writing to
 * the deployment it was opened to, which is what the campaign needs to see what a flip does to
 * open WebSockets. Writes are in the commit log (`via: ws`, the message id as request id).
 */
export function attachWebSocketWrites(server: Server, ctx: AdminContext & { readonly deployment: string }): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== '/ws' || ctx.fault.status !== undefined) {
      socket.end(`HTTP/1.1 ${ctx.fault.status ?? 404} Refused\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, ctx));
  });
  return {
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

function serve(ws: WebSocket, ctx: AdminContext & { readonly deployment: string }): void {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => {
    const receivedNs = CommitLog.now();
    const reply = (r: WsWriteReply): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(r));
    };
    let msg: z.infer<typeof WsWrite>;
    try {
      msg = WsWrite.parse(JSON.parse(isBinary ? '' : data.toString()));
    } catch {
      return reply({ id: undefined, ok: false, error: 'expected {"id", "key", "value"}' });
    }
    if (ctx.fault.status !== undefined) return reply({ id: msg.id, ok: false, error: `fault ${ctx.fault.status}` });
    const beginNs = CommitLog.now();
    putRecorded(ctx, msg.key, msg.value, (version) => ({
      key: msg.key,
      value: msg.value,
      version,
      requestId: msg.id,
      via: 'ws',
      receivedNs,
      beginNs,
    })).then(
      (version) => reply({ id: msg.id, ok: true, key: msg.key, version, deployment: ctx.deployment }),
      () => reply({ id: msg.id, ok: false, error: 'store failed' }),
    );
  });
}
