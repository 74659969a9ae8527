// The GraphQL-over-HTTP audits that ship with graphql-http, against the URL given:
// one JSON line per audit ({id, name, status, reason}).
import { serverAudits } from "graphql-http";

const url = process.argv[2];
for (const { id, name, fn } of serverAudits({ url })) {
  const result = await fn();
  console.log(JSON.stringify({ id, name, status: result.status, reason: result.reason ?? null }));
}
