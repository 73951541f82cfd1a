/**
 * HDR histograms across processes: hdr-histogram-js's compressed base64 (the encoding HdrHistogram
 * uses in every language), and the merge the controller does by adding them. A histogram that
 * does not decode is NW_LG_RESULT_INVALID naming where it came from.
 */
import { decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { newLatencyHistogram } from '../bench/latency-histogram.js';
import { LoadAgentError } from './load-agent-errors.js';

export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string, where: string): Histogram {
  try {
    return decodeFromCompressedBase64(encoded);
  } catch (err) {
    throw new LoadAgentError('NW_LG_RESULT_INVALID', `${where}: histogram does not decode: ${(err as Error).message}`, { cause: err });
  }
}

/** The sum of encoded histograms: every recorded value of each, in one new histogram. */
export function mergeHistograms(encoded: readonly { readonly histogram: string; readonly where: string }[]): Histogram {
  const total = newLatencyHistogram();
  for (const { histogram, where } of encoded) {
    const h = decodeHistogram(histogram, where);
    total.add(h);
    h.destroy();
  }
  return total;
}
