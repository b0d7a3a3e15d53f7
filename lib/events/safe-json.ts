const MAX_DEPTH = 10;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

/** Whether a parsed JSON value is an object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An event that can never be handled: its message says what is wrong and where. */
export class PoisonPill extends Error {}

/** JSON.parse that refuses prototype-polluting keys and nesting beyond MAX_DEPTH. */
export function parseJson(textValue: string, where: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < textValue.length; i++) {
    const c = textValue[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > MAX_DEPTH) throw new PoisonPill(`${where}: JSON nested deeper than ${MAX_DEPTH} levels`);
    } else if (c === '}' || c === ']') depth--;
  }
  try {
    return JSON.parse(textValue, (key, value: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) throw new PoisonPill(`${where}: key "${key}" is not allowed`);
      return value;
    });
  } catch (error) {
    if (error instanceof PoisonPill) throw error;
    throw new PoisonPill(`${where}: not valid JSON (${(error as Error).message})`);
  }
}
