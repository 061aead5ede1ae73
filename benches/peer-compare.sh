#!/usr/bin/env bash
# Side by side, in one run: frontier and a Python asyncio/aiohttp client built the way the
# Python peers build theirs (benches/peer_client.py) send the same open-loop Poisson schedule
# of 16-token streaming completions to the same zero-delay simulated engine, served by
# `frontier sim-server` in its own process on loopback. Each rate runs both clients one after
# the other; the table gives, per client, the achieved/target launch ratio, the schedule-lag
# p50/p99 (how late each request left against its deadline), the client's CPU use (1.00 = one
# core busy) and CPU time per request of the client and of the engine serving it (the engine's
# from /proc/PID/stat around each client's run, 10 ms ticks).
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
trap 'kill "$server" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

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
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "peer-compare: port $port is already in use (an earlier sim-server?); set PORT" >&2
    exit 2
fi
"$bin" sim-server --listen "127.0.0.1:$port" --model sim --pipeline "$work/engine.yaml" \
    --endpoint engine >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done

# CPU seconds (user + system) the engine process has used so far.
engine_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$server/stat"
}
# Client and engine CPU per request, microseconds: the client's CPU seconds over its run and
# the engine's over the same run, each divided by the requests sent.
per_request() {
    python3 -c 'import sys; cpu, e0, e1, n = map(float, sys.argv[1:]); print("%9.0f %9.0f" % (cpu / n * 1e6, (e1 - e0) / n * 1e6))' "$@"
}

printf '%8s  %-8s %9s %7s %11s %11s %6s %7s %9s %9s\n' rate client achieved ratio "lag p50 ms" \
    "lag p99 ms" cpu errors "client us" "engine us"
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
    e0=$(engine_cpu)
    "$bin" run "$work/p.yaml" --out "$work/out" --no-progress >"$work/run.log" 2>&1 || {
        cat "$work/run.log" >&2
        exit 1
    }
    e1=$(engine_cpu)
    run_dir=$(ls -d "$work"/out/peer-compare/* | tail -1)
    IFS=, read -r achieved ratio p50 p99 cpu errors cpu_s < <("$bin" query "$run_dir" --format csv \
        "SELECT achieved_rate, achieved_rate / target_rate AS ratio, lag_p50_ms, lag_p99_ms, client_cpu_util, errors, client_cpu_s FROM configs" |
        tail -1)
    printf '%8s  %-8s %9.0f %7.3f %11.3f %11.3f %6.2f %7s %s\n' "$rate" frontier "$achieved" "$ratio" \
        "$p50" "$p99" "$cpu" "$errors" "$(per_request "$cpu_s" "$e0" "$e1" "$n")"
    rm -rf "$work/out"
    e0=$(engine_cpu)
    python3 benches/peer_client.py --url "http://127.0.0.1:$port/v1" --rate "$rate" \
        --seconds "$secs" --tokens "$tokens" >"$work/python.json"
    e1=$(engine_cpu)
    IFS=, read -r achieved ratio p50 p99 cpu errors cpu_s < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(str(x) for x in (d["achieved_rate"], d["achieved_rate"]/d["target_rate"], d["lag_p50_ms"], d["lag_p99_ms"], d["cpu_util"], d["errors"], d["cpu_s"])))' "$work/python.json")
    printf '%8s  %-8s %9.0f %7.3f %11.3f %11.3f %6.2f %7s %s\n' "$rate" python "$achieved" "$ratio" \
        "$p50" "$p99" "$cpu" "$errors" "$(per_request "$cpu_s" "$e0" "$e1" "$n")"
done
