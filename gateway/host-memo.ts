/** How many Host values a memo keeps answers for; cleared when full, so random hosts cost the work each time, never memory. */
const MAX_HOSTS = 256;
/**
 * Longer values are answered each time, not kept: a client chooses them, up to the head limit
 * (1 MiB at most). A host name is at most 253 characters, a port 6.
 */
const MAX_HOST_CHARS = 260;

/**
 * Answers per Host value (a client sends the same few on every request), bounded in entries and
 * in the length of what it keeps. `compute` must be a pure function of the value.
 */
export class HostMemo<T> {
  private readonly answers = new Map<string, T>();

  constructor(private readonly compute: (host: string) => T) {}

  get(host: string): T {
    const known = this.answers.get(host);
    // One lookup on the usual path; `has` only tells a kept `undefined` from a miss.
    if (known !== undefined || this.answers.has(host)) return known as T;
    const answer = this.compute(host);
    if (host.length > MAX_HOST_CHARS) return answer;
    if (this.answers.size >= MAX_HOSTS) this.answers.clear();
    this.answers.set(host, answer);
    return answer;
  }
}
