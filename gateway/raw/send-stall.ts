/**
 * The send timeout of one reply (`timeouts.clientSendMs`): armed when a write finds the client's
 * buffer full, stopped when it drains or the reply ends. When it runs out, `cut` ends the
 * client's connection or stream and `stalled` says why the client is gone. A reply makes one only
 * on its first full buffer: nothing per request on the usual path.
 */
export class SendStall {
  stalled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly cut: () => void,
  ) {}

  arm(): void {
    if (this.timer === undefined && this.ms > 0) this.timer = setTimeout(this.expired, this.ms);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly expired = (): void => {
    this.timer = undefined;
    this.stalled = true;
    this.cut();
  };
}
