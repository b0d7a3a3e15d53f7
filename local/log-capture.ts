/**
 * Captures what the functions write to stdout and stderr (Powertools' JSON log lines and
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

/** Captures stdout and stderr (Powertools writes WARN and ERROR lines to stderr). */
export function captureStdout(options: { echo?: boolean } = {}): LogCapture {
  const raw: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((stream) => stream.write.bind(stream));
  streams.forEach((stream, i) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      raw.push(text.endsWith('\n') ? text : `${text}\n`);
      return options.echo ? originals[i]!(chunk, ...(rest as [])) : true;
    }) as typeof stream.write;
  });
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
      streams.forEach((stream, i) => {
        stream.write = originals[i]!;
      });
    },
  };
}
