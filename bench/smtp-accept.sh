#!/usr/bin/env bash
# smtp-accept.sh - durable SMTP accepts: Postern against real servers, same load, same run.
#
#   bench/smtp-accept.sh [options]
#
# Sets up the peers in bench/.peers (see bench/lib/peers.sh), then drives Postfix's smtp-source
# (the shared smtp-load.sh: 20 sessions; 1 KiB and 100 KiB many per connection, and 1 KiB one per
# connection) at each peer, then at a private Postern node on loopback (primary domain
# example.test, account b@example.test; the 250 comes after the durable commit, and the queue
# runner files each message into the INBOX). Prints the table (peer figure, Postern figure, ratio,
# settings) and appends the run to bench/README.md.
#
# Options:
#   -r RUNS    runs per test, the median is reported (default 3)
#   -m N       messages per run (default 10000)
#   -s N       parallel sessions (default 20)
#   -t LIST    tests: persist-1k,persist-100k,churn-1k (default all three)
#   -p LIST    peers: smtp-sink,postfix-maildir,haraka-discard,haraka-fsync (default all;
#              "none" for Postern alone)
#   -w N       untimed warm-up messages before each server's runs (default 200)
#   -T SECS    time limit of one smtp-source run and of one drain (default 300)
#   -L SECS    time limit of the whole run (default 3600)
#   -C         profile Postern: run it under node --cpu-prof (profiles kept in
#              bench/.peers/profiles/), no peers, no README entry, and print where the time went
#   -n         do not append the run to bench/README.md
#   -h         this help
# Environment: POSTERN_PEERS (where to copy the peer harness from), BENCH_KEEP=1 (keep the temp
#   dir: configs, logs, the Postern store), HARAKA_LOG_LEVEL, HARAKA_NODES (see the harness).
# Needs root (the private Postfix drops privileges), as the shared smtp-peers.sh does.
set -euo pipefail
# shellcheck source=lib/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"

RUNS=3 MSGS=10000 SESSIONS=20 TESTS="persist-1k,persist-100k,churn-1k"
PEER_LIST="smtp-sink,postfix-maildir,haraka-discard,haraka-fsync" WARM=200 TMO=300 TOTAL=3600
PROFILE=0 README=1
while getopts "r:m:s:t:p:w:T:L:Cnh" o; do
  case "$o" in
    r) RUNS="$OPTARG" ;; m) MSGS="$OPTARG" ;; s) SESSIONS="$OPTARG" ;; t) TESTS="$OPTARG" ;;
    p) PEER_LIST="$OPTARG" ;; w) WARM="$OPTARG" ;; T) TMO="$OPTARG" ;; L) TOTAL="$OPTARG" ;;
    C) PROFILE=1 ;; n) README=0 ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 0 )) || peers_die "unexpected argument '$1' (-h for help)"
for v in RUNS MSGS SESSIONS TMO TOTAL; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || peers_die "$v must be a positive integer"
done
[[ "$WARM" =~ ^[0-9]+$ ]] || peers_die "-w must be a number"
(( RUNS <= 20 && MSGS <= 50000 && SESSIONS <= 100 && TMO <= 3600 && TOTAL <= 4 * 3600 )) ||
  peers_die "bounds: -r<=20 -m<=50000 -s<=100 -T<=3600 -L<=14400"
if (( PROFILE )); then PEER_LIST=none; README=0; fi
[[ "$PEER_LIST" == none ]] && PEER_LIST=""

ensure_smtp_peers
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"   # log, die, free_port, wait_listen, make_tmp, track_pid, stop_pid, ...

START_S=$(date +%s)
left() { echo $(( TOTAL - ($(date +%s) - START_S) )); }   # seconds left of -L

make_tmp smtp-accept
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$PEERS_DIR/results"
RESULTS="$PEERS_DIR/results/accept-$STAMP.txt"     # the RESULT lines of this run
export BENCH_OUT="$PEERS_DIR/results/accept-$STAMP.tsv"
: >"$RESULTS"
LOAD_ARGS=(-r "$RUNS" -s "$SESSIONS" -m "$MSGS" -M "$MSGS" -t "$TESTS" -T "$TMO")
COMMAND="bench/smtp-accept.sh -r $RUNS -m $MSGS -s $SESSIONS -t $TESTS -p ${PEER_LIST:-none} -w $WARM"

log "date: $(date -Is)"
log "machine: $(machine_line)"
log "postern $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?') on node $("$NODE24" --version)"

# ---------------------------------------------------------------- the peers
if [[ -n "$PEER_LIST" ]]; then
  IFS=',' read -r -a PEERS <<<"$PEER_LIST"
  rc=0
  timeout --foreground --kill-after=30 "$(left)" \
    "$PEERS_DIR/smtp-peers.sh" "${LOAD_ARGS[@]}" -w "$WARM" "${PEERS[@]}" | tee -a "$RESULTS" || rc=$?
  (( rc == 0 )) || log "the peers' run ended with status $rc (timed out or a peer failed); going on with Postern"
fi

# ---------------------------------------------------------------- Postern
PN_DIR="$BENCH_TMP/postern"
# shellcheck source=lib/postern-node.sh
. "$BENCH_HOME/lib/postern-node.sh"   # stop_postern, PN_PID
add_cleanup stop_postern

PORT=$(free_port 12600)
DEAD_PORT=$(free_port $((PORT + 1)))   # a resolver nobody answers: this node resolves nothing
mkdir -p "$PN_DIR"
cat >"$PN_DIR/postern.toml" <<EOF
# a private Postern node for bench/smtp-accept.sh (generated)
hostname = "mx.example.test"
data_dir = "$PN_DIR/data"

[log]
level = "warn"

[dns]
resolvers = ["127.0.0.1:$DEAD_PORT"]

[smtp]
listen = ["127.0.0.1:$PORT"]
# smtp-source's 20 sessions, and in the churn test their closing connections, come from one address
max_connections_per_ip = 1000

[[domain]]
name = "example.test"
role = "primary"
EOF
DB="$PN_DIR/data/postern.db"
printf 'benchpass\n' | timeout 120 "$NODE24" "$REPO_DIR/bin/postern.js" account add b@example.test \
  --password-stdin --config "$PN_DIR/postern.toml" >/dev/null || die "postern account add failed"

PROF_ARGS=() PROF_DIR=""
if (( PROFILE )); then
  PROF_DIR="$PEERS_DIR/profiles/$STAMP"; mkdir -p "$PROF_DIR"
  PROF_ARGS=(--cpu-prof "--cpu-prof-dir=$PROF_DIR")
fi
(cd "$REPO_DIR" && exec "$NODE24" "${PROF_ARGS[@]}" bin/postern.js start --config "$PN_DIR/postern.toml") \
  >"$PN_DIR/postern.log" 2>&1 &
PN_PID=$!; track_pid "$PN_PID"
wait_listen tcp "$PORT" 60 "$PN_PID" || { cat "$PN_DIR/postern.log" >&2; die "postern did not start"; }
log "postern on 127.0.0.1:$PORT (pid $PN_PID), store $DB"

if (( WARM > 0 )); then
  timeout --foreground 120 smtp-source -d -s 10 -m "$WARM" -l 1024 -M client.example.test \
    -f a@example.test -t b@example.test "127.0.0.1:$PORT" >/dev/null 2>&1 || log "warm-up against postern failed"
  timeout --foreground 120 "$NODE24" "$BENCH_HOME/lib/inbox-count.ts" "$DB" "$WARM" 110 || die "postern's warm-up was not delivered"
fi

COUNT="'$NODE24' '$BENCH_HOME/lib/inbox-count.ts' '$DB'"
rc=0
timeout --foreground --kill-after=30 "$(left)" "$PEERS_DIR/smtp-load.sh" -n postern "${LOAD_ARGS[@]}" \
  -P "$COUNT >'$PN_DIR/base'" \
  -D "$COUNT \$((\$(cat '$PN_DIR/base') + EXPECT)) $TMO" "127.0.0.1:$PORT" | tee -a "$RESULTS" || rc=$?
(( rc == 0 )) || log "the run against postern ended with status $rc"
if grep -q '"level":\(50\|60\)' "$PN_DIR/postern.log" 2>/dev/null; then
  log "postern logged errors:"; grep '"level":\(50\|60\)' "$PN_DIR/postern.log" | head -5 >&2
fi
stop_postern

if (( PROFILE )); then
  # One profile per thread: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the
  # server's main thread, the others are workers (the SQLite store's).
  profs=("$PROF_DIR"/*.cpuprofile)
  [[ -e "${profs[0]}" ]] || die "no profile was written to $PROF_DIR"
  : >"$PROF_DIR/summary.txt"
  for prof in "${profs[@]}"; do
    tid=$(basename "$prof" | awk -F. '{ print $5 }')
    if [[ "$tid" == 0 ]]; then what="main thread"; else what="worker thread $tid (the store)"; fi
    printf '\n=== %s\n' "$what" | tee -a "$PROF_DIR/summary.txt"
    "$NODE24" "$BENCH_HOME/lib/cpu-profile-summary.ts" "$prof" 25 | tee -a "$PROF_DIR/summary.txt"
  done
  log "profiles: $PROF_DIR (summary.txt beside them)"
fi

# ---------------------------------------------------------------- the table
# RESULT smtp LABEL TEST size=.. sessions=.. msgs=.. runs=a/b accept_msgs_per_s=X spread=.. [e2e_msgs_per_s=Y ..]
TABLE="$(awk -v runs="$RUNS" -v sessions="$SESSIONS" -v msgs="$MSGS" '
  function kv(k,   i) { for (i = 5; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  $1 == "RESULT" && $2 == "smtp" {
    acc[$3, $4] = kv("accept_msgs_per_s"); e2e[$3, $4] = kv("e2e_msgs_per_s"); sp[$3, $4] = kv("spread")
    if (!($4 in seen_t)) { seen_t[$4] = 1; tests[++nt] = $4 }
    if ($3 != "postern" && !($3 in seen_p)) { seen_p[$3] = 1; peers[++np] = $3 }
  }
  function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
  function what(p) {
    if (p == "smtp-sink") return "accepts and discards: no durability"
    if (p == "postfix-maildir") return "fsync of the queue file before 250, then into Maildir"
    if (p == "haraka-discard") return "nothing written"
    if (p == "haraka-fsync") return "write + fsync + rename before 250"
    return ""
  }
  END {
    print "| test | peer | peer msg/s | Postern msg/s | Postern / peer | settings |"
    print "|---|---|---:|---:|---:|---|"
    for (t = 1; t <= nt; t++) {
      T = tests[t]; pn = acc["postern", T]
      set = sprintf("%s sessions, %s msgs, %s runs (median); Postern: commit before 250, then INBOX", sessions, msgs, runs)
      for (p = 1; p <= np; p++) {
        P = peers[p]
        if (!((P, T) in acc)) continue
        printf "| %s | %s (%s) | %s | %s | %s | %s |\n", T, P, what(P), acc[P, T], pn, ratio(pn, acc[P, T]), set
        if (e2e[P, T] != "" && e2e["postern", T] != "")
          printf "| %s | %s, accept to last delivery | %s | %s | %s | as above, end to end |\n", T, P, e2e[P, T], e2e["postern", T], ratio(e2e["postern", T], e2e[P, T])
      }
      if (np == 0) printf "| %s | (none) | | %s | | %s; Postern delivered into INBOX at %s msg/s |\n", T, pn, set, e2e["postern", T]
    }
  }' "$RESULTS")"
SPREADS="$(grep '^RESULT' "$RESULTS" | sed 's/^/    /' || true)"

printf '\n%s\n\n' "$TABLE"
TX_NOTE="$(date -Is)"
if (( README )); then
  RM="$BENCH_HOME/README.md"
  [[ -f "$RM" ]] || printf '# Benchmarks\n\n## Runs\n' >"$RM"
  {
    printf '\n### smtp-accept, %s\n\n' "$TX_NOTE"
    printf 'Machine: %s. Postern %s, Node %s; postfix %s; Haraka %s.\n' "$(machine_line)" \
      "$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')" "$("$NODE24" --version)" \
      "$(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?')" \
      "$(node -p "require('$PEERS_DIR/peers/haraka/node_modules/Haraka/package.json').version" 2>/dev/null || echo '?')"
    printf 'Command: `%s` (smtp-source via the shared smtp-load.sh; every run: `sync`, then the timed load).\n\n' "$COMMAND"
    printf '%s\n\nMedians and spreads (min..max) of every figure:\n\n```\n%s\n```\n' "$TABLE" "$SPREADS"
  } >>"$RM"
  log "appended to $RM"
fi
log "RESULT lines: $RESULTS; every run: $BENCH_OUT"
