/**
 * Reads the metrics a packaged template's dashboard and alarms refer to, so a
 * test can hold them against the names the code emits.
 */

export interface MetricReference {
  readonly namespace: string;
  readonly name: string;
  /** Dimension names and values in turn (a SEARCH gives names only); values as in the template. */
  readonly dimensions: readonly unknown[];
  /** The value of the `service` dimension, when there is one. */
  readonly service?: string | undefined;
}

type Dimension = { Name: string; Value: unknown };

const SEARCH = /^SEARCH\('\{([^}]*)\}([^']*)',/;

function fromSearch(expression: string): MetricReference {
  const match = SEARCH.exec(expression);
  if (!match) throw new Error(`dashboard expression is not a SEARCH this test understands: ${expression}`);
  const [namespace = '', ...dimensions] = match[1]!.split(',');
  const term = (key: string) => new RegExp(`${key}="([^"]+)"`).exec(match[2]!)?.[1];
  const name = term('MetricName');
  if (!name) throw new Error(`SEARCH names no MetricName: ${expression}`);
  return { namespace, name, dimensions, service: term('service') };
}

function fromArray(entry: unknown[]): MetricReference {
  const plain = entry.filter((part) => typeof part === 'string') as string[];
  if (plain.some((part) => part === '.' || part === '..'))
    throw new Error(`shorthand "." metrics are not allowed (they hide the name): ${JSON.stringify(entry)}`);
  const [namespace = '', name = '', ...dimensions] = plain;
  const at = dimensions.indexOf('service');
  return { namespace, name, dimensions, service: at >= 0 ? dimensions[at + 1] : undefined };
}

/** Every metric a dashboard body (`{"Fn::Sub": "<json>"}` or a JSON string) shows. */
export function dashboardMetrics(body: unknown): MetricReference[] {
  const text = typeof body === 'string' ? body : (body as { 'Fn::Sub': string })['Fn::Sub'];
  const parsed = JSON.parse(text) as { widgets: Array<{ type: string; properties: { metrics?: unknown[][] } }> };
  return parsed.widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).map((entry) => {
      const first = entry[0] as { expression?: string } | string;
      return typeof first === 'object' && first.expression ? fromSearch(first.expression) : fromArray(entry);
    }),
  );
}

function fromStat(metric: { Namespace: string; MetricName: string; Dimensions?: Dimension[] }): MetricReference {
  const dimensions = (metric.Dimensions ?? []).flatMap((d) => [d.Name, d.Value]);
  const service = metric.Dimensions?.find((d) => d.Name === 'service')?.Value;
  return {
    namespace: metric.Namespace,
    name: metric.MetricName,
    dimensions,
    service: typeof service === 'string' ? service : undefined,
  };
}

/**
 * Every metric an AWS::CloudWatch::Alarm's properties watch (one metric, or the MetricStats of a metric math alarm).
 */
export function alarmMetrics(properties: Record<string, any>): MetricReference[] {
  if (properties['MetricName'])
    return [fromStat(properties as { Namespace: string; MetricName: string; Dimensions?: Dimension[] })];
  return (
    (properties['Metrics'] ?? []) as Array<{
      MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: Dimension[] } };
    }>
  ).flatMap((m) => (m.MetricStat ? [fromStat(m.MetricStat.Metric)] : []));
}
