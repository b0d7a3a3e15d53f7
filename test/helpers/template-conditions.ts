/**
 * Evaluates a packaged template's conditions and `Fn::If`s the way
 * CloudFormation would for given parameter values (each parameter's default
 * unless overridden), so a test can say what a deploy with those values
 * creates. Knows the intrinsics this project's conditions use.
 */

export interface Template {
  readonly Parameters?: Record<string, { readonly Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
}

function value(expression: unknown, template: Template, parameters: Record<string, string>): unknown {
  if (typeof expression !== 'object' || expression === null) return expression;
  const [[fn, args]] = Object.entries(expression) as [[string, any]];
  switch (fn) {
    case 'Ref':
      if (args in parameters) return parameters[args];
      if (template.Parameters && args in template.Parameters) return String(template.Parameters[args]!.Default ?? '');
      throw new Error(`Ref ${args} is not a parameter`);
    case 'Fn::Split':
      return String(value(args[1], template, parameters)).split(args[0]);
    case 'Fn::Select':
      return (value(args[1], template, parameters) as unknown[])[Number(args[0])];
    case 'Fn::Equals':
    case 'Fn::Not':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Condition':
      return holds(expression, template, parameters);
    default:
      throw new Error(`${fn} is not evaluated here`);
  }
}

function holds(expression: unknown, template: Template, parameters: Record<string, string>): boolean {
  const [[fn, args]] = Object.entries(expression as object) as [[string, any]];
  switch (fn) {
    case 'Fn::Equals':
      return value(args[0], template, parameters) === value(args[1], template, parameters);
    case 'Fn::Not':
      return !holds(args[0], template, parameters);
    case 'Fn::And':
      return (args as unknown[]).every((a) => holds(a, template, parameters));
    case 'Fn::Or':
      return (args as unknown[]).some((a) => holds(a, template, parameters));
    case 'Condition':
      return conditionHolds(template, args, parameters);
    default:
      throw new Error(`${fn} is not a condition function`);
  }
}

/** Whether the named condition is true for these parameter values (defaults otherwise). */
export function conditionHolds(template: Template, name: string, parameters: Record<string, string> = {}): boolean {
  const condition = template.Conditions?.[name];
  if (condition === undefined) throw new Error(`no condition ${name}`);
  return holds(condition, template, parameters);
}

/**
 * A value with every `Fn::If` replaced by the branch its condition picks (AWS::NoValue branches dropped from lists).
 */
export function applyConditions(
  expression: unknown,
  template: Template,
  parameters: Record<string, string> = {},
): unknown {
  if (Array.isArray(expression))
    return expression.map((e) => applyConditions(e, template, parameters)).filter((e) => e !== NO_VALUE);
  if (typeof expression !== 'object' || expression === null) return expression;
  const entries = Object.entries(expression);
  if (entries.length === 1 && entries[0]![0] === 'Fn::If') {
    const [name, yes, no] = entries[0]![1] as [string, unknown, unknown];
    return applyConditions(conditionHolds(template, name, parameters) ? yes : no, template, parameters);
  }
  if (entries.length === 1 && entries[0]![0] === 'Ref' && entries[0]![1] === 'AWS::NoValue') return NO_VALUE;
  return Object.fromEntries(entries.map(([k, v]) => [k, applyConditions(v, template, parameters)]));
}

const NO_VALUE = Symbol('AWS::NoValue');
