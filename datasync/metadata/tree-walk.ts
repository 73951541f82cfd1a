/**
 * Bounded-concurrency walk of a tree whose nodes are discovered by asynchronous visits: at most
 * `concurrency` visits run at once, the rest wait on a stack (last found, first visited), so the
 * walk goes depth-first and the waiting frontier stays small even on wide trees. A visit returns
 * the items it found below its own; every item is visited after the visit that found it finished,
 * so whatever a visit emits for an item comes after what its parent's visit emitted.
 */
export async function walkTree<T>(roots: readonly T[], concurrency: number, visit: (item: T) => Promise<readonly T[]>): Promise<void> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const stack: T[] = [...roots].reverse();
  let running = 0;
  let failure: { readonly err: unknown } | undefined;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (failure) {
        if (running === 0) reject(failure.err);
        return;
      }
      while (running < concurrency && stack.length > 0) {
        const item = stack.pop() as T;
        running += 1;
        visit(item).then(
          (found) => {
            running -= 1;
            for (let i = found.length - 1; i >= 0; i -= 1) stack.push(found[i] as T);
            pump();
          },
          (err: unknown) => {
            running -= 1;
            failure ??= { err };
            pump();
          },
        );
      }
      if (running === 0 && stack.length === 0) resolve();
    };
    pump();
  });
}
