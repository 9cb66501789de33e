#!/usr/bin/env bash
# Fuzz the HTTP API from its own OpenAPI document with schemathesis (PyPI). Not part of .ci/run:
# it takes minutes. Every 500 it finds is a bug.
#
#   python3 -m pip install schemathesis          # once
#   bash tests/fuzz/schemathesis.sh [MAX_EXAMPLES]
#
# A throwaway registry is filled (users of every role, an approved T2 dataset and plugin, a run, a
# competition) so that generated requests reach real records, then `sieve serve` runs on a free
# port and schemathesis checks every operation as the root admin (which passes the most checks,
# so the handlers behind them are exercised) with the `not_a_server_error` check and others.
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-50}"
cargo build --release --quiet
sieve="$PWD/target/release/sieve"
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
export SIEVE_HOME="$work/home"
admin="$("$sieve" init --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["admin_token"])')"
export SIEVE_TOKEN="$admin"
"$sieve" org add city-a --parent province >/dev/null
approver="$("$sieve" user add approver --org province --role admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
"$sieve" user add olga --org province --role organizer --json >/dev/null
"$sieve" gen private-lending-fraud --out "$work/data" >/dev/null
"$sieve" dataset import lending "$work/data" --task private-lending-fraud --source fuzz >/dev/null
"$sieve" dataset approve lending >/dev/null
"$sieve" bundled export private-lending-fraud --out "$work/t2.wasm" >/dev/null
digest="$("$sieve" plugin publish "$work/t2.wasm" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')"
SIEVE_TOKEN="$approver" "$sieve" plugin approve "$digest" --note fuzz >/dev/null
"$sieve" run "$digest" --dataset lending >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$sieve" serve --addr "127.0.0.1:$port" --workers 1 2>"$work/serve.log" &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
status=0
SCHEMATHESIS_HOOKS="$PWD/tests/fuzz/hooks.py" schemathesis run "http://127.0.0.1:$port/api/openapi.json" \
    --header "Authorization: Bearer $admin" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance \
    --max-examples "$examples" --suppress-health-check all \
    --exclude-path '/api/users/{name}/tokens' || status=$?
# (Excluded: generated requests there revoke the fuzzer's own token, after which every request is a 401.)
grep -c ' status=500 ' "$work/serve.log" | sed 's/^/responses with status 500 in the server log: /' || true
exit $status
