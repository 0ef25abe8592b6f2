#!/usr/bin/env bash
# smtp-relay.sh - relaying: Postern against Postfix, same load, same run, from the first accept to
# the last delivery at a remote smtp-sink.
#
#   bench/smtp-relay.sh [options]
#
# Sets up the peers in bench/.peers (see bench/lib/peers.sh). The load is smtp-accept.sh's
# (Postfix's smtp-source via the shared smtp-load.sh: 20 sessions, 1 KiB, optionally 100 KiB, mail
# from a@example.test to b@example.test), and each server must send every message on to an
# smtp-sink on another loopback address:
#   - Postfix: the harness's postfix-relay peer (relay_domains = example.test, a transport map to
#     the sink's [address]:port; fsync of the queue file before 250). Its end-to-end figure is the
#     harness's: until the Postfix queue is empty with nothing deferred.
#   - Postern: a private node with its own authoritative DNS (dns.listen, and dns.resolvers pointing
#     at it): the zone relay.test has MX 10 sink.relay.test, whose A record is the sink's address;
#     smtp.outbound_port is the sink's port. Postern refuses to relay for an unauthenticated client
#     (no open relay; there is no trusted-network setting), so b@example.test is an alias of
#     b@relay.test: the alias is accepted at RCPT, committed to the queue before the 250, and the
#     queue runner delivers it by the MX walk. The sink runs with -c, and the end-to-end clock stops
#     when its counter has grown by the number of messages sent (bench/lib/relay-sink-count.sh);
#     afterwards Postern's queue must be empty (bench/lib/queue-count.ts).
# Prints the table (peer figure, Postern figure, ratio, settings) and appends the run to
# bench/README.md.
#
# Options:
#   -r RUNS    runs per test, the median is reported (default 3)
#   -m N       messages per run (default 10000)
#   -s N       parallel sessions (default 20)
#   -t LIST    tests: persist-1k,persist-100k,churn-1k (default persist-1k)
#   -p LIST    peers: postfix-relay (default), or "none" for Postern alone
#   -c N       Postern's delivery.max_connections_per_host (default 20: Postfix's
#              default_destination_concurrency_limit, which its relay transport uses)
#   -w N       untimed warm-up messages before each server's runs (default 200)
#   -T SECS    time limit of one smtp-source run and of one drain (default 300)
#   -L SECS    time limit of the whole run (default 3600)
#   -C         profile Postern: run it under node --cpu-prof (profiles kept in
#              bench/.peers/profiles/), no peers, no README entry, and print where the time went
#   -n         do not append the run to bench/README.md
#   -h         this help
# Environment: POSTERN_PEERS (where to copy the peer harness from), BENCH_KEEP=1 (keep the temp
#   dir: configs, logs, the Postern store), RELAY_NET (the first three octets of the loopback
#   addresses Postern and its sink use, default 127.0.77), POSTERN_TREE (measure the Postern of
#   another tree, e.g. a copy with a change under test; default this clone).
# Needs root (the private Postfix drops privileges), as the shared smtp-peers.sh does.
set -euo pipefail
# shellcheck source=lib/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"

RUNS=3 MSGS=10000 SESSIONS=20 TESTS="persist-1k" PEER_LIST="postfix-relay" CONNS=20 WARM=200
TMO=300 TOTAL=3600 PROFILE=0 README=1
while getopts "r:m:s:t:p:c:w:T:L:Cnh" o; do
  case "$o" in
    r) RUNS="$OPTARG" ;; m) MSGS="$OPTARG" ;; s) SESSIONS="$OPTARG" ;; t) TESTS="$OPTARG" ;;
    p) PEER_LIST="$OPTARG" ;; c) CONNS="$OPTARG" ;; w) WARM="$OPTARG" ;; T) TMO="$OPTARG" ;;
    L) TOTAL="$OPTARG" ;; C) PROFILE=1 ;; n) README=0 ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 0 )) || peers_die "unexpected argument '$1' (-h for help)"
for v in RUNS MSGS SESSIONS CONNS TMO TOTAL; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || peers_die "$v must be a positive integer"
done
[[ "$WARM" =~ ^[0-9]+$ ]] || peers_die "-w must be a number"
(( RUNS <= 20 && MSGS <= 50000 && SESSIONS <= 100 && CONNS <= 200 && WARM <= 10000 && TMO <= 3600 && TOTAL <= 4 * 3600 )) ||
  peers_die "bounds: -r<=20 -m<=50000 -s<=100 -c<=200 -w<=10000 -T<=3600 -L<=14400"
[[ ",$TESTS," =~ ^(,(persist-1k|persist-100k|churn-1k))+,$ ]] || peers_die "-t: tests are persist-1k, persist-100k, churn-1k"
if (( PROFILE )); then PEER_LIST=none; README=0; fi
[[ "$PEER_LIST" == none ]] && PEER_LIST=""
[[ -z "$PEER_LIST" || "$PEER_LIST" == postfix-relay ]] || peers_die "-p: the one peer is postfix-relay (or none)"
NET="${RELAY_NET:-127.0.77}"
[[ "$NET" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || peers_die "RELAY_NET must be 127.X.Y"
PN_ADDR="$NET.1" SINK_ADDR="$NET.2"

ensure_smtp_peers
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"   # log, die, free_port, wait_listen, make_tmp, track_pid, stop_pid, ...

START_S=$(date +%s)
left() { echo $(( TOTAL - ($(date +%s) - START_S) )); }   # seconds left of -L

make_tmp smtp-relay
PN_TREE="${POSTERN_TREE:-$REPO_DIR}"   # the Postern measured: this clone, or another tree to compare
[[ -f "$PN_TREE/bin/postern.js" ]] || die "no bin/postern.js in $PN_TREE"
[[ "$PN_TREE" == "$REPO_DIR" ]] || log "measuring the Postern in $PN_TREE (POSTERN_TREE)"
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$PEERS_DIR/results"
RESULTS="$PEERS_DIR/results/relay-$STAMP.txt"     # the RESULT lines of this run
export BENCH_OUT="$PEERS_DIR/results/relay-$STAMP.tsv"
: >"$RESULTS"
LOAD_ARGS=(-r "$RUNS" -s "$SESSIONS" -m "$MSGS" -M "$MSGS" -t "$TESTS" -T "$TMO")
COMMAND="bench/smtp-relay.sh -r $RUNS -m $MSGS -s $SESSIONS -t $TESTS -p ${PEER_LIST:-none} -c $CONNS -w $WARM"

log "date: $(date -Is)"
log "machine: $(machine_line)"
log "postern $(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo '?') on node $("$NODE24" --version)"

# ---------------------------------------------------------------- the peer
if [[ -n "$PEER_LIST" ]]; then
  rc=0
  timeout --foreground --kill-after=30 "$(left)" \
    "$PEERS_DIR/smtp-peers.sh" "${LOAD_ARGS[@]}" -w "$WARM" postfix-relay | tee -a "$RESULTS" || rc=$?
  (( rc == 0 )) || log "the peer's run ended with status $rc (timed out or it failed); going on with Postern"
fi

# ---------------------------------------------------------------- the sink
SINK_PID=""
SINK_PORT=$(free_port 12650)
SINK_OUT="$BENCH_TMP/sink.count"
# -c: the running counter bench/lib/relay-sink-count.sh reads. As in the harness: IPv4, drop to
# nobody, backlog 1024.
smtp-sink -c -4 -u nobody -h sink.relay.test "$SINK_ADDR:$SINK_PORT" 1024 >"$SINK_OUT" 2>"$BENCH_TMP/sink.err" &
SINK_PID=$!; track_pid "$SINK_PID"
wait_listen tcp "$SINK_PORT" 10 "$SINK_PID" || die "smtp-sink did not start: $(cat "$BENCH_TMP/sink.err")"
log "smtp-sink on $SINK_ADDR:$SINK_PORT (pid $SINK_PID)"
SINK_COUNT="'$BENCH_HOME/lib/relay-sink-count.sh' '$SINK_OUT'"

# ---------------------------------------------------------------- Postern
PN_DIR="$BENCH_TMP/postern"
# shellcheck source=lib/postern-node.sh
. "$BENCH_HOME/lib/postern-node.sh"   # stop_postern, PN_PID
add_cleanup stop_postern

PORT=$(free_port 12660)
DNS_PORT=$(free_port $((PORT + 1)))
mkdir -p "$PN_DIR/zones"
cat >"$PN_DIR/zones/relay.test.zone" <<EOF
; the remote domain of bench/smtp-relay.sh (generated): its one MX host is the smtp-sink
\$ORIGIN relay.test.
\$TTL 3600
@     IN SOA ns.relay.test. hostmaster.relay.test. ( 2026112901 7200 3600 1209600 3600 )
      IN NS  ns
ns    IN A   $PN_ADDR
@     IN MX  10 sink
sink  IN A   $SINK_ADDR
EOF
cat >"$PN_DIR/postern.toml" <<EOF
# a private Postern node for bench/smtp-relay.sh (generated)
hostname = "mx.example.test"
data_dir = "$PN_DIR/data"

[log]
level = "warn"

[dns]
# its own authoritative DNS, and its only resolver: nothing is asked of the system's
listen = ["$PN_ADDR:$DNS_PORT"]
zones_dir = "$PN_DIR/zones"
resolvers = ["$PN_ADDR:$DNS_PORT"]

[smtp]
listen = ["$PN_ADDR:$PORT"]
# the sink listens on this port of the address the MX record names
outbound_port = $SINK_PORT
# smtp-source's 20 sessions, and in the churn test their closing connections, come from one address
max_connections_per_ip = 1000

[delivery]
max_connections_per_host = $CONNS

[[domain]]
name = "example.test"
role = "primary"
EOF
DB="$PN_DIR/data/postern.db"
timeout 120 "$NODE24" "$PN_TREE/bin/postern.js" alias add b@example.test b@relay.test \
  --config "$PN_DIR/postern.toml" >/dev/null || die "postern alias add failed"

PROF_ARGS=() PROF_DIR=""
if (( PROFILE )); then
  PROF_DIR="$PEERS_DIR/profiles/relay-$STAMP"; mkdir -p "$PROF_DIR"
  PROF_ARGS=(--cpu-prof "--cpu-prof-dir=$PROF_DIR")
fi
(cd "$PN_TREE" && exec "$NODE24" "${PROF_ARGS[@]}" bin/postern.js start --config "$PN_DIR/postern.toml") \
  >"$PN_DIR/postern.log" 2>&1 &
PN_PID=$!; track_pid "$PN_PID"
wait_listen tcp "$PORT" 60 "$PN_PID" || { cat "$PN_DIR/postern.log" >&2; die "postern did not start"; }
log "postern on $PN_ADDR:$PORT, DNS on $PN_ADDR:$DNS_PORT (pid $PN_PID), store $DB"

# The route, as Postern sees it, before any load: the MX plan must name the sink.
"$NODE24" "$PN_TREE/bin/postern.js" route b@relay.test --config "$PN_DIR/postern.toml" 2>&1 | sed 's/^/  route: /' >&2 || true

if (( WARM > 0 )); then
  timeout --foreground 120 smtp-source -d -s 10 -m "$WARM" -l 1024 -M client.example.test \
    -f a@example.test -t b@example.test "$PN_ADDR:$PORT" >/dev/null 2>&1 || log "warm-up against postern failed"
  timeout --foreground 130 "$BENCH_HOME/lib/relay-sink-count.sh" "$SINK_OUT" "$WARM" 120 ||
    { tail -5 "$PN_DIR/postern.log" >&2; die "postern's warm-up did not reach the sink"; }
  timeout --foreground 70 "$NODE24" "$BENCH_HOME/lib/queue-count.ts" "$DB" empty 60 || die "postern's queue did not empty after the warm-up"
fi

# CPU seconds (user + system) of a process, from /proc: on a shared machine the wall-clock rate
# drifts with the neighbours' load, the CPU a message costs much less.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
IFS=',' read -r -a TEST_LIST <<<"$TESTS"
SENT=$(( RUNS * MSGS * ${#TEST_LIST[@]} ))
CPU0=$(cpu_s "$PN_PID")
rc=0
timeout --foreground --kill-after=30 "$(left)" "$PEERS_DIR/smtp-load.sh" -n postern "${LOAD_ARGS[@]}" \
  -P "$SINK_COUNT >'$PN_DIR/base'" \
  -D "$SINK_COUNT \$((\$(cat '$PN_DIR/base') + EXPECT)) $TMO" "$PN_ADDR:$PORT" | tee -a "$RESULTS" || rc=$?
(( rc == 0 )) || log "the run against postern ended with status $rc"
timeout 70 "$NODE24" "$BENCH_HOME/lib/queue-count.ts" "$DB" empty 60 || log "postern's queue did not empty within 60s of the last run"
QUEUE_AFTER="$(timeout 30 "$NODE24" "$BENCH_HOME/lib/queue-count.ts" "$DB" 2>&1 || true)"
CPU1=$(cpu_s "$PN_PID")
CPU_NOTE="$(awk -v a="$CPU0" -v b="$CPU1" -v n="$SENT" 'BEGIN { printf "%.1f s CPU for %d messages, %.2f ms a message", b - a, n, 1000 * (b - a) / n }')"
SUNK="$(bash -c "$SINK_COUNT")"
log "postern's queue after the runs: $QUEUE_AFTER; the sink received $SUNK messages in all; postern used $CPU_NOTE"
if grep -q '"level":\(50\|60\)' "$PN_DIR/postern.log" 2>/dev/null; then
  log "postern logged errors:"; grep '"level":\(50\|60\)' "$PN_DIR/postern.log" | head -5 >&2
fi
stop_postern
stop_pid "$SINK_PID" 5

if (( PROFILE )); then
  prof=$(ls -t "$PROF_DIR"/*.cpuprofile 2>/dev/null | head -1 || true)
  [[ -n "$prof" ]] || die "no profile was written to $PROF_DIR"
  "$NODE24" "$BENCH_HOME/lib/cpu-profile-summary.ts" "$prof" 25 | tee "$PROF_DIR/summary.txt"
  log "profile: $prof (summary beside it)"
fi

# ---------------------------------------------------------------- the table
# RESULT smtp LABEL TEST size=.. sessions=.. msgs=.. runs=a/b accept_msgs_per_s=X spread=.. [e2e_msgs_per_s=Y ..]
TABLE="$(awk -v runs="$RUNS" -v sessions="$SESSIONS" -v msgs="$MSGS" -v conns="$CONNS" '
  function kv(k,   i) { for (i = 5; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  $1 == "RESULT" && $2 == "smtp" {
    acc[$3, $4] = kv("accept_msgs_per_s"); e2e[$3, $4] = kv("e2e_msgs_per_s")
    if (!($4 in seen_t)) { seen_t[$4] = 1; tests[++nt] = $4 }
    if ($3 != "postern" && !($3 in seen_p)) { seen_p[$3] = 1; peers[++np] = $3 }
  }
  function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
  END {
    print "| test | peer | peer msg/s | Postern msg/s | Postern / peer | settings |"
    print "|---|---|---:|---:|---:|---|"
    for (t = 1; t <= nt; t++) {
      T = tests[t]
      set = sprintf("%s sessions, %s msgs, %s runs (median); Postfix: default concurrency (20 per destination); Postern: alias to relay.test, MX by its own DNS, %s connections per host", sessions, msgs, runs, conns)
      for (p = 1; p <= np; p++) {
        P = peers[p]
        if (!((P, T) in acc)) continue
        printf "| %s | %s, first accept to last delivery at the sink | %s | %s | %s | %s |\n", T, P, e2e[P, T], e2e["postern", T], ratio(e2e["postern", T], e2e[P, T]), set
        printf "| %s | %s, accepts alone (250 after the commit) | %s | %s | %s | as above |\n", T, P, acc[P, T], acc["postern", T], ratio(acc["postern", T], acc[P, T])
      }
      if (np == 0) printf "| %s | (none) | | %s | | %s; accepts alone %s msg/s |\n", T, e2e["postern", T], set, acc["postern", T]
    }
  }' "$RESULTS")"
SPREADS="$(grep '^RESULT' "$RESULTS" | sed 's/^/    /' || true)"

printf '\n%s\n\n' "$TABLE"
if (( README )); then
  RM="$BENCH_HOME/README.md"
  [[ -f "$RM" ]] || printf '# Benchmarks\n\n## Runs\n' >"$RM"
  {
    printf '\n### smtp-relay, %s\n\n' "$(date -Is)"
    printf 'Machine: %s. Postern %s, Node %s; postfix %s.\n' "$(machine_line)" \
      "$(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo '?')" "$("$NODE24" --version)" \
      "$(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?')"
    printf 'Command: `%s` (smtp-source via the shared smtp-load.sh; every run: `sync`, then the timed load). Postfix end to end: until its queue is empty (pf-drain.sh); Postern: until the sink has counted every message (relay-sink-count.sh); Postern'"'"'s queue afterwards: %s; Postern'"'"'s process used %s (accept, queue, delivery, its DNS).\n\n' "$COMMAND" "$QUEUE_AFTER" "$CPU_NOTE"
    printf '%s\n\nMedians and spreads (min..max) of every figure:\n\n```\n%s\n```\n' "$TABLE" "$SPREADS"
  } >>"$RM"
  log "appended to $RM"
fi
log "RESULT lines: $RESULTS; every run: $BENCH_OUT"
