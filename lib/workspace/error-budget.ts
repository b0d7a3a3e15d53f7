/**
 * The share of failed Workspace calls one invocation tolerates before it
 * stops calling and defers the rest of its batch, as AWS Config's
 * ErrorPercentage and SSM's MaxErrors stop a run that is going wrong.
 */
export class ErrorBudget {
  private calls = 0;
  private failures = 0;

  constructor(
    /** Failed share (0–1) above which calls stop. */
    private readonly maxFailureRate: number,
    /** Calls made before the rate is judged. */
    private readonly minCalls: number,
  ) {}

  record(ok: boolean): void {
    this.calls++;
    if (!ok) this.failures++;
  }

  exhausted(): boolean {
    return this.calls >= this.minCalls && this.failures / this.calls > this.maxFailureRate;
  }

  describe(): string {
    return `${this.failures} of ${this.calls} Workspace calls in this invocation failed`;
  }
}
