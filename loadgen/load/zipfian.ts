/**
 * Zipfian item picker after Gray et al., "Quickly Generating Billion-Record
 * Synthetic Databases" (SIGMOD 1994), as used by YCSB's ZipfianGenerator:
 * returns ranks 0..n-1, rank 0 the most popular, P(rank i) ∝ 1 / (i+1)^theta.
 * zeta(n) is computed once in O(n).
 */
export class ZipfianGenerator {
  private readonly alpha: number;
  private readonly zetan: number;
  private readonly eta: number;
  private readonly halfPowTheta: number;

  constructor(
    private readonly n: number,
    theta: number,
    private readonly random: () => number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`zipfian: item count must be a positive integer, got ${n}`);
    if (!(theta > 0 && theta < 1)) throw new RangeError(`zipfian: theta must be in (0, 1), got ${theta}`);
    const zeta2 = zeta(2, theta);
    this.alpha = 1 / (1 - theta);
    this.zetan = zeta(n, theta);
    this.eta = (1 - (2 / n) ** (1 - theta)) / (1 - zeta2 / this.zetan);
    this.halfPowTheta = 0.5 ** theta;
  }

  next(): number {
    const u = this.random();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + this.halfPowTheta) return Math.min(1, this.n - 1);
    const rank = Math.floor(this.n * (this.eta * u - this.eta + 1) ** this.alpha);
    return Math.min(rank, this.n - 1);
  }
}

function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / i ** theta;
  return sum;
}
