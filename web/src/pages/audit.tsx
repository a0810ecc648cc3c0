// The audit log with its filters (who, what, resource, result, time), newest first as the API pages it.
import { useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";
import { AuditService } from "../../../gen/es/rackplane/v1/audit_pb.js";
import { PagerControls, usePager } from "../components/pager";
import { ErrorNotice } from "../errors";
import { quote, shortId, time } from "../format";

interface AuditFilter {
  principal: string;
  method: string;
  resourceType: string;
  result: string;
  since: string;
}

/** The AIP-160 filter the form stands for. */
export function auditFilter(filter: AuditFilter): string {
  const parts: string[] = [];
  if (filter.principal) parts.push(`principal = ${quote(filter.principal)}`);
  if (filter.method) parts.push(`method = ${quote(filter.method)}`);
  if (filter.resourceType) parts.push(`resource_type = ${quote(filter.resourceType)}`);
  if (filter.result) parts.push(`result = ${quote(filter.result)}`);
  if (filter.since) parts.push(`time >= ${quote(new Date(filter.since).toISOString())}`);
  return parts.join(" AND ");
}

export function Audit() {
  const [form, setForm] = useState<AuditFilter>({ principal: "", method: "", resourceType: "", result: "", since: "" });
  const [filter, setFilter] = useState("");
  const pager = usePager();
  const events = useQuery(AuditService.method.listAuditEvents, { pageSize: 50, pageToken: pager.pageToken, filter });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFilter(auditFilter(form));
    pager.reset();
  };
  const field = (key: keyof AuditFilter, label: string, type = "text") => (
    <label>
      {label}
      <input type={type} value={form[key]} onChange={(e) => setForm({ ...form, [key]: e.target.value })} />
    </label>
  );
  return (
    <>
      <h1>Audit log</h1>
      <form className="filters" onSubmit={submit} aria-label="Audit filters">
        {field("principal", "Who")}
        {field("method", "Method (e.g. CreateRack)")}
        {field("resourceType", "Resource type")}
        {field("result", "Result (e.g. OK)")}
        {field("since", "Since", "datetime-local")}
        <button type="submit">Apply</button>
      </form>
      <ErrorNotice error={events.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Audit events, page {pager.page}</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">Method</th>
              <th scope="col">Resource</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {events.data?.auditEvents.map((e) => (
              <tr key={e.id}>
                <td>{time(e.time)}</td>
                <td>{e.principal}</td>
                <td>{e.method}</td>
                <td>
                  {e.resourceType} {shortId(e.resourceId)}
                </td>
                <td>
                  {e.result}
                  {e.reason ? ` ${e.reason}` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <PagerControls pager={pager} nextPageToken={events.data?.nextPageToken} />
    </>
  );
}
