// A graphql-ws client subscribing to alertCreated with the token given; it reports what
// it sees as JSON lines: {"event": "acknowledged"}, {"event": "next", "payload": ...},
// {"event": "error", ...}, {"event": "closed", "code": ..., "reason": ...}. It makes no
// retries, so the server's close is what it reports.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token] = process.argv.slice(2);
const report = (event) => console.log(JSON.stringify(event));

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  lazy: false,
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  on: {
    connected: () => report({ event: "acknowledged" }),
    closed: (event) => {
      report({ event: "closed", code: event.code, reason: event.reason });
      process.exit(0);
    },
  },
});

client.subscribe(
  { query: "subscription { alertCreated { id alertType accountNumber title } }" },
  {
    next: (payload) => report({ event: "next", payload }),
    error: (error) => report({ event: "error", error: error?.message ?? String(error?.code ?? error) }),
    complete: () => report({ event: "complete" }),
  },
);
