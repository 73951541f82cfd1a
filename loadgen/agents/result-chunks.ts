/**
 * A result as coordinator nodes: JSON, gzipped, cut into parts well under ZooKeeper's 1 MB node
 * limit (jute.maxbuffer), and a manifest (part count, size, SHA-256) the agent writes last. The
 * controller reads the manifest, then the parts, and checks size and digest before it inflates
 * (with a bound) and parses: a half-written or tampered result is an error, not a wrong report.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { LoadAgentError } from './load-agent-errors.js';

/** Bytes per part node: half the default jute.maxbuffer, leaving room for the request around it. */
export const RESULT_PART_BYTES = 512 * 1024;
/** Most compressed bytes the controller accepts from one agent. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;
/** Most JSON bytes one result may inflate to. */
export const MAX_RESULT_JSON_BYTES = 256 * 1024 * 1024;

export const MANIFEST_NODE = 'manifest';
export const partNode = (i: number): string => `part-${String(i).padStart(5, '0')}`;

export const manifestSchema = z.object({
  encoding: z.literal('json+gzip'),
  parts: z
    .number()
    .int()
    .min(1)
    .max(Math.ceil(MAX_RESULT_BYTES / 1024)),
  bytes: z.number().int().min(1).max(MAX_RESULT_BYTES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ResultManifest = z.output<typeof manifestSchema>;

export interface EncodedResult {
  readonly manifest: ResultManifest;
  readonly parts: readonly Buffer[];
}

export function encodeResult(value: unknown, partBytes = RESULT_PART_BYTES): EncodedResult {
  const packed = gzipSync(Buffer.from(JSON.stringify(value)));
  const parts: Buffer[] = [];
  for (let at = 0; at < packed.length; at += partBytes) parts.push(packed.subarray(at, at + partBytes));
  return {
    manifest: {
      encoding: 'json+gzip',
      parts: parts.length,
      bytes: packed.length,
      sha256: createHash('sha256').update(packed).digest('hex'),
    },
    parts,
  };
}

/** Joins the parts, checks them against the manifest and parses the JSON; NW_LG_RESULT_INVALID naming `where`. */
export function decodeResult(manifest: ResultManifest, parts: readonly Buffer[], where: string): unknown {
  const invalid = (detail: string, cause?: unknown): LoadAgentError =>
    new LoadAgentError('NW_LG_RESULT_INVALID', `${where}: ${detail}`, cause === undefined ? undefined : { cause });
  if (parts.length !== manifest.parts) throw invalid(`${parts.length} parts, the manifest says ${manifest.parts}`);
  const packed = Buffer.concat(parts);
  if (packed.length !== manifest.bytes) throw invalid(`${packed.length} bytes, the manifest says ${manifest.bytes}`);
  if (createHash('sha256').update(packed).digest('hex') !== manifest.sha256) throw invalid('SHA-256 does not match the manifest');
  let json: Buffer;
  try {
    json = gunzipSync(packed, { maxOutputLength: MAX_RESULT_JSON_BYTES });
  } catch (err) {
    throw invalid(`does not inflate: ${(err as Error).message}`, err);
  }
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw invalid(`not JSON: ${(err as Error).message}`, err);
  }
}
