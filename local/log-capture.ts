/**
 * Captures what the functions write to stdout (Powertools' JSON log lines and
 * EMF metrics), for `npm start`'s table and for tests that check what an
 * operator would see, including that no secret is ever in it.
 */
export interface LogCapture {
  /** Every chunk written, as text. */
  readonly raw: string[];
  /** The JSON lines with `message: "outcome"`. */
  outcomes(): Array<Record<string, unknown>>;
  /** Every JSON line. */
  lines(): Array<Record<string, unknown>>;
  restore(): void;
}

export function captureStdout(options: { echo?: boolean } = {}): LogCapture {
  const raw: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    raw.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return options.echo ? original(chunk, ...(rest as [])) : true;
  }) as typeof process.stdout.write;
  const lines = () =>
    raw
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return {
    raw,
    lines,
    outcomes: () => lines().filter((line) => line['message'] === 'outcome'),
    restore: () => {
      process.stdout.write = original;
    },
  };
}
