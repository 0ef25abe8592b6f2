#!/usr/bin/env bash
# dns.sh - authoritative DNS: Postern against NSD on the same zone, same load, same run.
#
#   bench/dns.sh [options]
#
# Sets up the peers in bench/.peers (see bench/lib/peers.sh), runs dnsperf (the shared
# dns-load.sh and its query mix, dns/queries.txt: A, MX and AAAA questions for names of
# example.test, a sixth of them NXDOMAIN) against NSD serving peers/nsd/example.test.zone, then against a private Postern node serving
# the same zone file, and prints the table (NSD's figure, Postern's, the ratio, settings).
#
# Options:
#   -r RUNS    runs per test, the median is reported (default 3)
#   -l SECS    seconds per dnsperf run (default 10)
#   -t LIST    tests: udp-max,tcp-max,udp-10k (default udp-max,tcp-max)
#   -C         profile Postern: run it under node --cpu-prof (profiles kept in
#              bench/.peers/profiles/), no NSD, no README entry, and print where the time went
#   -n         do not append the run to bench/README.md
#   -h         this help
# Environment: POSTERN_PEERS, BENCH_KEEP=1, NSD_SERVERS (see the harness).
set -euo pipefail
# shellcheck source=lib/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"

RUNS=3 SECS=10 TESTS="udp-max,tcp-max" README=1 PROFILE=0
while getopts "r:l:t:Cnh" o; do
  case "$o" in
    r) RUNS="$OPTARG" ;; l) SECS="$OPTARG" ;; t) TESTS="$OPTARG" ;; n) README=0 ;; C) PROFILE=1 README=0 ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 0 )) || peers_die "unexpected argument '$1' (-h for help)"
[[ "$RUNS" =~ ^[1-9][0-9]*$ && "$SECS" =~ ^[1-9][0-9]*$ ]] && (( RUNS <= 20 && SECS <= 120 )) ||
  peers_die "bounds: -r 1..20, -l 1..120"

ensure_dns_peers
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"

make_tmp bench-dns
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$PEERS_DIR/results"
RESULTS="$PEERS_DIR/results/dns-$STAMP.txt"
export BENCH_OUT="$PEERS_DIR/results/dns-$STAMP.tsv"
: >"$RESULTS"
LOAD_ARGS=(-r "$RUNS" -l "$SECS" -t "$TESTS")
ZONE="$PEERS_DIR/peers/nsd/example.test.zone"
log "date: $(date -Is)"
log "machine: $(machine_line)"

# ---------------------------------------------------------------- NSD
if (( ! PROFILE )); then
  rc=0
  timeout --foreground --kill-after=30 $(( (RUNS * 3 * (SECS + 30)) + 120 )) \
    "$PEERS_DIR/dns-peers.sh" "${LOAD_ARGS[@]}" | tee -a "$RESULTS" || rc=$?
  (( rc == 0 )) || log "the NSD run ended with status $rc"
fi

# ---------------------------------------------------------------- Postern
PN_DIR="$BENCH_TMP/postern"
# shellcheck source=lib/postern-node.sh
. "$BENCH_HOME/lib/postern-node.sh"   # stop_postern, PN_PID
add_cleanup stop_postern

PORT=$(free_port 15400)
mkdir -p "$PN_DIR/zones"
cp "$ZONE" "$PN_DIR/zones/example.test.zone"   # the same file NSD served, named ORIGIN.zone
cat >"$PN_DIR/postern.toml" <<EOF
# a private Postern DNS server for bench/dns.sh (generated)
hostname = "ns1.example.test"
data_dir = "$PN_DIR/data"

[log]
level = "warn"

[dns]
listen = ["127.0.0.1:$PORT"]
zones_dir = "$PN_DIR/zones"
resolvers = ["127.0.0.1:$PORT"]
EOF
PROF_ARGS=() PROF_DIR=""
if (( PROFILE )); then
  PROF_DIR="$PEERS_DIR/profiles/dns-$STAMP"; mkdir -p "$PROF_DIR"
  PROF_ARGS=(--cpu-prof "--cpu-prof-dir=$PROF_DIR")
fi
(cd "$REPO_DIR" && exec "$NODE24" "${PROF_ARGS[@]}" bin/postern.js start --config "$PN_DIR/postern.toml") >"$PN_DIR/postern.log" 2>&1 &
PN_PID=$!; track_pid "$PN_PID"
wait_listen udp "$PORT" 60 "$PN_PID" || { cat "$PN_DIR/postern.log" >&2; die "postern did not start"; }
mx=$(timeout 10 dig +short +time=2 +tries=1 -p "$PORT" @127.0.0.1 example.test MX | sort | tr '\n' ' ' || true)
log "postern DNS on 127.0.0.1:$PORT (pid $PN_PID): example.test MX = $mx"
[[ -n "$mx" ]] || die "postern does not answer for example.test"
rc=0
timeout --foreground --kill-after=30 $(( (RUNS * 3 * (SECS + 30)) + 60 )) \
  "$PEERS_DIR/dns-load.sh" -n postern "${LOAD_ARGS[@]}" "127.0.0.1:$PORT" | tee -a "$RESULTS" || rc=$?
(( rc == 0 )) || log "the postern run ended with status $rc"
stop_postern
if (( PROFILE )); then
  prof=$(ls -t "$PROF_DIR"/*.cpuprofile 2>/dev/null | head -1 || true)
  [[ -n "$prof" ]] || die "no profile was written to $PROF_DIR"
  "$NODE24" "$BENCH_HOME/lib/cpu-profile-summary.ts" "$prof" 25 | tee "$PROF_DIR/summary.txt"
  log "profile: $prof (summary beside it)"
fi

# ---------------------------------------------------------------- the table
# RESULT dns LABEL TEST secs=.. runs=a/b qps=X spread=.. avg_latency_ms=Y latency_sd_ms=.. lost=..
TABLE="$(awk -v runs="$RUNS" -v secs="$SECS" '
  function kv(k,   i) { for (i = 5; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  $1 == "RESULT" && $2 == "dns" {
    q[$3, $4] = kv("qps"); lat[$3, $4] = kv("avg_latency_ms")
    if (!($4 in seen)) { seen[$4] = 1; tests[++nt] = $4 }
  }
  function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
  END {
    print "| test | peer | peer q/s | Postern q/s | Postern / peer | settings |"
    print "|---|---|---:|---:|---:|---|"
    for (t = 1; t <= nt; t++) {
      T = tests[t]
      printf "| %s | nsd (1 server process, RRL off) | %s | %s | %s | dnsperf -c 1 -T 1, %s s x %s runs (median); avg latency nsd %s ms, Postern %s ms |\n", \
        T, q["nsd", T], q["postern", T], ratio(q["postern", T], q["nsd", T]), secs, runs, lat["nsd", T], lat["postern", T]
    }
  }' "$RESULTS")"
printf '\n%s\n\n' "$TABLE"
if (( README )); then
  RM="$BENCH_HOME/README.md"
  [[ -f "$RM" ]] || printf '# Benchmarks\n\n## Runs\n' >"$RM"
  {
    printf '\n### dns, %s\n\n' "$(date -Is)"
    printf 'Machine: %s. Postern %s, Node %s; nsd %s; dnsperf %s.\n' "$(machine_line)" \
      "$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')" "$("$NODE24" --version)" \
      "$(nsd -v 2>&1 | awk '/version/ { print $3; exit }')" "$(dnsperf -h 2>&1 | awk '/^Version/ { print $2; exit }' || true)"
    printf 'Command: `bench/dns.sh -r %s -l %s -t %s` (dnsperf via the shared dns-load.sh, queries dns/queries.txt).\n\n' "$RUNS" "$SECS" "$TESTS"
    printf '%s\n\n```\n%s\n```\n' "$TABLE" "$(grep '^RESULT' "$RESULTS" | sed 's/^/    /' || true)"
  } >>"$RM"
  log "appended to $RM"
fi
log "RESULT lines: $RESULTS; every run: $BENCH_OUT"
