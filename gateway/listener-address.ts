/** Where a listener of ours (traffic or admin) accepts connections. */
export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
  readonly url: string;
}
