#!/usr/bin/env bash
# Copies the GraphiQL page's browser files, at the versions package-lock.json pins, into
# the package, so the page works on a network that reaches nothing but this server.
# Run it after changing a version in package.json (then `npm install --package-lock-only`).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
out=../../src/account_alerts/api/graphiql/assets
mkdir -p "$out"
cp node_modules/react/umd/react.production.min.js "$out/react.production.min.js"
cp node_modules/react-dom/umd/react-dom.production.min.js "$out/react-dom.production.min.js"
cp node_modules/graphiql/graphiql.min.js "$out/graphiql.min.js"
cp node_modules/graphiql/graphiql.min.css "$out/graphiql.min.css"
for file in "$out"/*; do
    # Source maps are not shipped; one error text points React 15 users at other hosts.
    sed -i -e '/sourceMappingURL=/d' \
        -e 's/If you are using a CDN source ([^)]*), follow this example:/See:/' \
        "$file"
done
node -e '
const lock = require("./package-lock.json").packages;
const versions = Object.fromEntries(
  ["graphiql", "graphql", "react", "react-dom"].map((name) => [name, lock["node_modules/" + name].version]));
console.log(JSON.stringify(versions, null, 2));
' > "$out/VERSIONS.json"
