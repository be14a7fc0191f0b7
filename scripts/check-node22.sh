#!/usr/bin/env bash
# Starts the compiled server (dist/, `npm run build`) on the image's Node major, 22, where this
# machine may run another Node: that Node comes from the npm registry's node-linux-<arch> package
# (`npm pack`, nothing installed globally). The server runs in embedded mode on a throwaway
# DATA_DIR and port; the check passes when /readyz answers 200 and SIGTERM stops it with exit 0.
# Usage: scripts/check-node22.sh   (NODE_MAJOR=24 to try another major; about 20–40 s)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NODE_MAJOR=${NODE_MAJOR:-22}
READY_DEADLINE_S=${READY_DEADLINE_S:-90}

if [[ ! -f dist/src/main.js ]]; then
  echo "check-node22: dist/src/main.js is missing; run npm run build first" >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "check-node22: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/appinventory-node${NODE_MAJOR}.XXXXXX")
chmod 755 "$work" # as root, the embedded PostgreSQL runs as `postgres` and must reach DATA_DIR
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "check-node22: fetching node-linux-${arch}@${NODE_MAJOR} from the npm registry"
tarball=$(cd "$work" && npm pack --silent --prefer-offline "node-linux-${arch}@${NODE_MAJOR}" | tail -n 1)
tar -xzf "$work/$tarball" -C "$work" package/bin/node
rm -f "$work/$tarball"
node_bin="$work/package/bin/node"
version=$("$node_bin" --version)
if [[ "$version" != "v${NODE_MAJOR}."* ]]; then
  echo "check-node22: expected Node ${NODE_MAJOR}, got ${version}" >&2
  exit 1
fi

echo "check-node22: starting node ${version} dist/src/main.js (embedded mode)"
log="$work/server.log"
env -u DATABASE_URL -u MIGRATION_DATABASE_URL -u REDIS_URL -u NODE_OPTIONS \
  DATA_DIR="$work/data" PORT=0 HOST=127.0.0.1 NODE_ID=node-check \
  "$node_bin" --enable-source-maps dist/src/main.js >"$log" 2>&1 &
server_pid=$!

url=""
for _ in $(seq 1 $((READY_DEADLINE_S * 10))); do
  url=$(sed -n 's/.*running at \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n 1)
  [[ -n "$url" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "check-node22: the server did not come up; its output:" >&2
  cat "$log" >&2
  exit 1
fi

status=$("$node_bin" -e "fetch(process.argv[1]).then((r) => console.log(r.status), () => console.log('unreachable'))" "$url/readyz")
if [[ "$status" != "200" ]]; then
  echo "check-node22: GET $url/readyz answered $status; the server's output:" >&2
  cat "$log" >&2
  exit 1
fi

kill -TERM "$server_pid"
set +e
wait "$server_pid"
code=$?
set -e
server_pid=""
if [[ "$code" -ne 0 ]]; then
  echo "check-node22: the server exited $code on SIGTERM; its output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "check-node22: node ${version} served /readyz 200 from dist/ and stopped cleanly"
