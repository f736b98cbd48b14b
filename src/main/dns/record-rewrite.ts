// Applies a name mapping to every name a DNS record carries: its owner name and the names
// inside its data (CNAME/DNAME/NS/PTR targets, SRV targets, MX exchanges, SOA names). A
// cluster's answer so reads as if the mesh name had been asked. TTLs stay as they are.
import type { Answer } from 'dns-packet';

const NAME_DATA_TYPES = new Set(['CNAME', 'DNAME', 'NS', 'PTR']);

export function rewriteRecord(record: Answer, map: (name: string) => string): Answer {
  const out = { ...record, name: map(record.name) };
  const data = out as { data: unknown };
  if (NAME_DATA_TYPES.has(record.type) && typeof data.data === 'string') {
    data.data = map(data.data);
  } else if (record.type === 'SRV') {
    data.data = { ...record.data, target: map(record.data.target) };
  } else if (record.type === 'MX') {
    data.data = { ...record.data, exchange: map(record.data.exchange) };
  } else if (record.type === 'SOA') {
    data.data = { ...record.data, mname: map(record.data.mname), rname: map(record.data.rname) };
  }
  return out as Answer;
}

export function rewriteRecords(records: readonly Answer[] | undefined, map: (name: string) => string): Answer[] {
  return (records ?? []).map((r) => rewriteRecord(r, map));
}
