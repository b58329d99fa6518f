#!/usr/bin/env bash
# govulncheck over the code we call, against Go's vulnerability database.
# The database's web address cannot be reached from the machines we build
# on, but its source, golang.org/x/vulndb, is served as a module: this
# builds the database from a pinned version of it (its own indexdb tool)
# and points govulncheck at that. Exit status 3 means a vulnerability in
# code we call. Pinned versions: bump VULNDB to scan against newer reports.
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB=${VULNDB:-v0.0.0-20261105234957-e22db6528018}
GOVULNCHECK=${GOVULNCHECK:-v1.9.0}
db="${VULNCHECK_DB:-${XDG_CACHE_HOME:-$HOME/.cache}/roster-vulndb-$VULNDB}"
if [ ! -f "$db/index/db.json" ]; then
  src=$(go mod download -json "golang.org/x/vulndb@$VULNDB" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$db.tmp"
  go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB" -vulns "$src/data/osv" -out "$db.tmp"
  mv "$db.tmp" "$db"
fi
echo "vulncheck: $(go version), vulnerability reports of golang.org/x/vulndb@$VULNDB"
go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK" -db "file://$db" ./...
