import { CoordinatorError } from '../platform/coordinator/coordinator-errors.js';
import type { Logger } from '../platform/logger.js';
import { parseAckInfo, parseMemberInfo, type AckInfo, type DocumentVerdict, type MemberInfo } from '../protocol/coordinator-paths.js';

/** Hears about a document that was skipped because it does not match the protocol (a typed error naming the node). */
export type InvalidDocumentReport = (err: CoordinatorError) => void;

/** Reports each invalid node once per (path, content) to `logger`, so a re-read every poll does not flood the log. */
export function logInvalidDocuments(logger: Logger, event: string): InvalidDocumentReport {
  const seen = new Set<string>();
  return (err) => {
    if (seen.has(err.message)) return;
    if (seen.size > 1000) seen.clear();
    seen.add(err.message);
    logger.error(event, { err, code: err.code });
  };
}

function checked<T>(path: string, verdict: DocumentVerdict<T>, report: InvalidDocumentReport): T | undefined {
  if (verdict.ok) return verdict.value;
  report(new CoordinatorError('NW_CP_DOCUMENT_INVALID', `${path}: ${verdict.reason}`));
  return undefined;
}

/**
 * A member node's document, or undefined if it does not match the protocol (reported, never
 * thrown: a hostile or broken member node must not break a barrier or a rollback).
 */
export function memberInfoOf(path: string, data: Buffer, report: InvalidDocumentReport): MemberInfo | undefined {
  return checked(path, parseMemberInfo(data), report);
}

/** An ack node's document, or undefined if it does not match the protocol (reported, never thrown). */
export function ackInfoOf(path: string, data: Buffer, report: InvalidDocumentReport): AckInfo | undefined {
  return checked(path, parseAckInfo(data), report);
}
