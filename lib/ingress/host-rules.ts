/**
 * Which hosts the ingress may fetch from: SMN's signing certificates and its
 * subscription-confirmation URLs. A rule is a host name, optionally with a
 * port, where `*` stands for exactly one DNS label (`smn.*.myhuaweicloud.com`
 * matches `smn.cn-north-4.myhuaweicloud.com`, not `smn.evil.com.myhuaweicloud.com`
 * nor `x.smn.cn-north-4.myhuaweicloud.com`). Only `https` URLs ever pass: SMN's
 * guide says the certificate is always downloaded over HTTPS and the server's
 * identity checked (docs/ingress.md, "Signature").
 */

/** One allowed host pattern (parseHostRule), matched against a URL's host and port. */
export type HostRule = RegExp;

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const RULE_SHAPE = /^(\*|[a-z0-9-]+)(\.(\*|[a-z0-9-]+))*(:\d{1,5})?$/;

/** Parses one rule; undefined when it is not a host pattern. */
export function parseHostRule(rule: string): HostRule | undefined {
  const text = rule.trim().toLowerCase();
  if (!RULE_SHAPE.test(text) || text.length > 253) return undefined;
  const [, host = '', port = ''] = /^(.*?)(:\d{1,5})?$/.exec(text)!;
  const labels = host.split('.');
  // The domain itself (the last two labels) must be written out: `*.*` or `smn.*` would admit any host.
  if (labels.length < 2 || labels.slice(-2).includes('*')) return undefined;
  const source = labels.map((part) => (part === '*' ? LABEL : part.replace(/[-]/g, '\\-'))).join('\\.');
  return new RegExp(`^${source}${port}$`);
}

/** Why a URL may not be fetched, or undefined when it may. `what` names the field in the answer. */
export function urlProblem(what: string, raw: string, rules: readonly HostRule[]): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${what} is not a URL`;
  }
  if (url.protocol !== 'https:') return `${what} must be https, got ${url.protocol.replace(':', '')}`;
  if (url.username || url.password) return `${what} must not carry credentials`;
  // URL.host omits the default port (443), so a rule without a port only admits 443.
  if (!rules.some((rule) => rule.test(url.host))) return `${what} host ${url.host} is not an allowed SMN host`;
  return undefined;
}
