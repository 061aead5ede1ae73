#!/usr/bin/env bash
# Side by side, in one run: frontier and a Python asyncio/aiohttp client built the way the
# Python peers build theirs (benches/peer_client.py) send the same open-loop Poisson schedule
# of 16-token streaming completions to the same zero-delay simulated engine, served by
# `frontier sim-server` in its own process on loopback. Each rate runs both clients one after
# the other; the table gives, per client, the achieved/target launch ratio, the schedule-lag
# p50/p99 (how late each request left against its deadline) and the client's CPU use
# (1.00 = one core busy).
#
#   benches/peer-compare.sh [RATE...]        (default rates: 500 1000 2000 4000)
#
# Needs a release build (built here) and aiohttp (`python3 -m pip install aiohttp`).
# Environment: SECONDS_PER_RATE (default 3), TOKENS (default 16), PORT (default 18431).
set -euo pipefail
cd "$(dirname "$0")/.."

rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(500 1000 2000 4000)
secs=${SECONDS_PER_RATE:-3}
tokens=${TOKENS:-16}
port=${PORT:-18431}

python3 -c "import aiohttp" 2>/dev/null || {
    echo "peer-compare: needs aiohttp: python3 -m pip install aiohttp" >&2
    exit 2
}
cargo build --release --quiet
bin=target/release/frontier
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# Zero delay, as in `frontier calibrate`: no prefill or decode time (also none per batched
# sequence), no KV-cache limit, slots enough for any rate here.
cat >"$work/engine.yaml" <<EOF
version: 1
name: engine
endpoints:
  engine:
    kind: simulated
    profile: { slots: 1048576, kv_tokens: 0, prefill_tok_s: 0, decode_ms: 0, decode_ms_per_seq: 0, default_output_tokens: $tokens }
datasets:
  prompts: { path: prompts.jsonl, input: text }
workload: { arrival: { concurrency: 1 }, requests: 1 }
flow:
  - id: ask
    llm: { endpoint: engine, prompt: "{{ item.text }}" }
EOF
echo '{"text": "x"}' >"$work/prompts.jsonl"
"$bin" sim-server --listen "127.0.0.1:$port" --model sim --pipeline "$work/engine.yaml" \
    --endpoint engine >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done

printf '%8s  %-8s %9s %7s %11s %11s %6s %7s\n' rate client achieved ratio "lag p50 ms" "lag p99 ms" cpu errors
for rate in "${rates[@]}"; do
    n=$(python3 -c "print(max(10, int($rate * $secs)))")
    seq "$n" | sed 's/.*/{"text": "calibration request &"}/' >"$work/prompts.jsonl"
    cat >"$work/p.yaml" <<EOF
version: 1
name: peer-compare
endpoints:
  engine: { kind: openai, base_url: "http://127.0.0.1:$port/v1", model: sim }
datasets:
  prompts: { path: prompts.jsonl, input: text }
workload:
  arrival: { poisson: { rate: $rate } }
  requests: $n
  seed: 1
flow:
  - id: ask
    llm: { endpoint: engine, api: completions, prompt: "{{ item.text }}", params: { max_tokens: $tokens } }
EOF
    "$bin" run "$work/p.yaml" --out "$work/out" --no-progress >"$work/run.log" 2>&1 || {
        cat "$work/run.log" >&2
        exit 1
    }
    run_dir=$(ls -d "$work"/out/peer-compare/* | tail -1)
    "$bin" query "$run_dir" --format csv \
        "SELECT achieved_rate, achieved_rate / target_rate AS ratio, lag_p50_ms, lag_p99_ms, client_cpu_util, errors FROM configs" |
        tail -1 | awk -F, -v r="$rate" '{ printf "%8s  %-8s %9.0f %7.3f %11.3f %11.3f %6.2f %7s\n", r, "frontier", $1, $2, $3, $4, $5, $6 }'
    rm -rf "$work/out"
    python3 benches/peer_client.py --url "http://127.0.0.1:$port/v1" --rate "$rate" \
        --seconds "$secs" --tokens "$tokens" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print("%8s  %-8s %9.0f %7.3f %11.3f %11.3f %6.2f %7d" % (sys.argv[1], "python", d["achieved_rate"], d["achieved_rate"]/d["target_rate"], d["lag_p50_ms"], d["lag_p99_ms"], d["cpu_util"], d["errors"]))' "$rate"
done
