// The OpenAPI string formats the real server checks in CRD schemas (kube-openapi's
// format registry plus Kubernetes' own), for the formats a CRD is likely to use.
// An unknown format is accepted, as the real server does.

const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAC = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

function isIpv6(text: string): boolean {
  if (!text.includes(':')) return false;
  try {
    // The URL parser validates bracketed IPv6 literals strictly.
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const ip = text.slice(0, slash);
  const len = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len)) return false;
  if (IPV4.test(ip)) return Number(len) <= 32;
  return isIpv6(ip) && Number(len) <= 128;
}

const CHECKS: Record<string, (text: string) => boolean> = {
  ipv4: (t) => IPV4.test(t),
  ipv6: isIpv6,
  ip: (t) => IPV4.test(t) || isIpv6(t),
  cidr: isCidr,
  hostname: (t) => HOSTNAME.test(t),
  uuid: (t) => UUID.test(t),
  uuid3: (t) => UUID.test(t),
  uuid4: (t) => UUID.test(t),
  uuid5: (t) => UUID.test(t),
  date: (t) => DATE.test(t),
  'date-time': (t) => DATE_TIME.test(t),
  datetime: (t) => DATE_TIME.test(t),
  byte: (t) => BASE64.test(t),
  mac: (t) => MAC.test(t),
  email: (t) => EMAIL.test(t),
  uri: (t) => URL.canParse(t),
};

/** Whether `text` satisfies `format`; true for formats this server does not know. */
export function matchesFormat(format: string, text: string): boolean {
  const check = CHECKS[format];
  return check ? check(text) : true;
}
