/** The request shapes the proxy bench sends; shared by the driver and the bench upstream. */

/** Size of the body the bench upstream returns for every GET. */
export const GET_REPLY_BYTES = 1024;
/** Size of the body each POST carries. */
export const POST_BODY_BYTES = 4096;

export type WorkloadName = 'get-1k' | 'post-4k';

export interface Workload {
  readonly name: WorkloadName;
  readonly label: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

/** The small reply the bench upstream gives to a POST: how many bytes it consumed. */
export function postReply(received: number): string {
  return `{"received":${received}}`;
}

const workloads: Workload[] = [
  { name: 'get-1k', label: 'GET 1 KB', method: 'GET', path: '/get', headers: {}, body: undefined },
  {
    name: 'post-4k',
    label: 'POST 4 KB',
    method: 'POST',
    path: '/post',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(POST_BODY_BYTES, 'x'),
  },
];
export const WORKLOADS: readonly Workload[] = Object.freeze(workloads);
