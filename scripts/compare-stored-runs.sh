#!/usr/bin/env bash
# Side-by-side cost of two builds of one model as stored runs, whole processes alternating.
#
#   scripts/compare-stored-runs.sh TASK DATA_DIR OLD.wasm NEW.wasm [RUNS]
#
# Each component gets a registry home of its own (published, approved, the dataset imported and
# approved by a second admin), then `sieve run DIGEST --dataset t --fresh` alternates between the two,
# RUNS times each (default 10). Prints per build the medians of loading, the model and the whole
# process (ms), and the output digests seen: two builds of the same rule must print one digest.
# SIEVE names the binary (default target/release/sieve). OLD_WITHOUT_CHECKS=1 removes the BLAKE3
# check digests from the old home's manifest, so its blobs are held to their SHA-256 names (give
# the same component twice to measure what the check digests save).
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,13p "$0" >&2; exit 2; }
task=$1 data=$2 runs=${5:-10}
sieve=${SIEVE:-$(cd "$(dirname "$0")/.." && pwd)/target/release/sieve}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

token() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("admin_token") or d["token"])'; }

# setup HOME COMPONENT: a registry with the component and the dataset approved.
setup() {
    local home=$1 component=$2 admin author second digest
    export SIEVE_HOME=$home
    admin=$("$sieve" init --json | token)
    author=$(SIEVE_TOKEN=$admin "$sieve" user add alice --org province --role author --json | token)
    second=$(SIEVE_TOKEN=$admin "$sieve" user add bob --org province --role admin --json | token)
    digest=$(SIEVE_TOKEN=$author "$sieve" plugin publish "$component" --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
    SIEVE_TOKEN=$admin "$sieve" plugin approve "$digest" >/dev/null
    SIEVE_TOKEN=$admin "$sieve" dataset import t "$data" --task "$task" --source compare >/dev/null
    SIEVE_TOKEN=$second "$sieve" dataset approve t >/dev/null
    echo "$admin" >"$home/admin.token"
    echo "$digest" >"$home/digest"
}

setup "$work/old" "$3"
setup "$work/new" "$4"
if [ "${OLD_WITHOUT_CHECKS:-}" = 1 ]; then
    python3 - "$work/old/sieve.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for id_, text in db.execute("SELECT id, encoding FROM datasets WHERE encoding IS NOT NULL").fetchall():
    encoding = json.loads(text)
    encoding.pop("checks", None)
    db.execute("UPDATE datasets SET encoding = ? WHERE id = ?", (json.dumps(encoding), id_))
db.commit()
PY
fi
for _ in $(seq 1 "$runs"); do
    for build in old new; do
        home=$work/$build
        started=$(date +%s%N)
        # --fresh: every run runs the model (a rerun would be answered from the one before).
        report=$(SIEVE_HOME=$home "$sieve" run "$(cat "$home/digest")" --dataset t --fresh \
            --token-file "$home/admin.token" --json 2>/dev/null || true)
        ended=$(date +%s%N)
        echo "$report" | python3 -c "
import json, sys
text = sys.stdin.read()
d = json.loads(text[text.index('{'):text.rindex('}') + 1])
print('$build', d['load_ms'], d['wall_ms'], ($ended - $started) / 1e6, d['outcome'], d['output_digest'])"
    done
done | python3 -c "
import statistics, sys
rows = [line.split() for line in sys.stdin]
for build in ('old', 'new'):
    r = [x for x in rows if x[0] == build]
    med = lambda i: round(statistics.median(float(x[i]) for x in r))
    print(f'{build}: loading {med(1)} ms, model {med(2)} ms, process {med(3)} ms,',
          'outcomes', sorted({x[4] for x in r}), 'digests', sorted({x[5][:19] for x in r}))"
