#!/usr/bin/env bash
# Copies htmx, at the version package-lock.json pins, into the console's static files, so
# the console works on a network that reaches nothing but this server.
# Run it after changing the version in package.json (then `npm install --package-lock-only`).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
out=../../src/account_alerts/admin/static
mkdir -p "$out"
cp node_modules/htmx.org/dist/htmx.min.js "$out/htmx.min.js"
sed -i -e '/sourceMappingURL=/d' "$out/htmx.min.js"
node -e '
const lock = require("./package-lock.json").packages;
console.log(JSON.stringify({"htmx.org": lock["node_modules/htmx.org"].version}, null, 2));
' > "$out/VERSIONS.json"
