// DNS response codes (RFC 1035 4.1.1) as the mesh DNS uses them: in replies and as the
// `result` label of kubelink_dns_queries_total.
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeName = keyof typeof Rcode;
export const RCODE_NAMES = Object.fromEntries(Object.entries(Rcode).map(([k, v]) => [v, k])) as Record<number, RcodeName>;
