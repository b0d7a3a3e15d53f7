/** A plain-text table for terminals: columns padded, long cells cut with an ellipsis. */
export function renderTable(
  rows: ReadonlyArray<Record<string, string>>,
  columns: readonly string[],
  maxWidth = 70,
): string {
  const cell = (value: string) => (value.length > maxWidth ? `${value.slice(0, maxWidth - 1)}…` : value);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c] ?? '')))),
  ].join('\n');
}
