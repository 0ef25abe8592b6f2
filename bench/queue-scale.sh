#!/usr/bin/env bash
# queue-scale.sh - how Postern's costs grow with a deferred queue: 0, then SMTP-enqueued mail, then
# 100,000 and 1,000,000 messages waiting for a destination that does not answer.
#
#   bench/queue-scale.sh [options]
#
# A private Postern node on loopback (SQLite store under a temp dir). b@example.test is an alias of
# b@deferred.test (Postern relays for no unauthenticated client; an alias may point anywhere), and
# deferred.test's MX, served by the node's own DNS, is an address where nothing listens: every
# attempt is refused, and the retry schedule ("0s", "10d") puts the next one ten days away, so
# nothing is retried during the run. c@example.test is an alias of c@relay.test, whose MX is an
# smtp-sink: the probe that shows the node delivers again after a restart.
#
# Steps, each printed and put in the table:
#   1. the scheduling step at 0 queued (bench/lib/queue-scale.ts step, through the Store API with
#      the server stopped): claimDue with nothing due, claimDue of 20 due among the deferred,
#      claimDue of 20 with the whole queue due (as after `queue retry --all`), nextAttemptAt, and
#      the restart's recovery queries (releaseLeases, deleteFinished);
#   2. start: time until SMTP listens, and until a probe message reaches the sink; resident memory
#      (VmRSS of the Postern process, from /proc);
#   3. SMTP enqueue of -s N messages with smtp-source (20 sessions, 1 KiB): msg/s, and the time until
#      every one has had its first (refused) attempt; VmRSS;
#   4. for each size of -q: stop (timed), fill up to that size through the Store API in batches
#      (enqueue, group commits; the table says so), the scheduling step, start again (timed, as in
#      2: "restart"), VmRSS after the probe and again after -i seconds idle (the runner polls).
# The store file's size is reported with each step. Prints the table and appends the run to
# bench/README.md. No peer: absolute figures and their growth.
#
# Options:
#   -s N       messages enqueued over SMTP (default 10000; 0 to skip)
#   -q LIST    queue sizes filled through the store, ascending (default 100000,1000000)
#   -b N       enqueues in flight while filling (default 1000: one group commit takes up to 1000)
#   -r N       repetitions of each scheduling-step figure (default 20; median and max reported)
#   -i SECS    idle time after each restart before the second memory reading (default 10)
#   -T SECS    time limit of one step: the SMTP load, a fill, a start (default 900)
#   -L SECS    time limit of the whole run (default 3600)
#   -n         do not append the run to bench/README.md
#   -h         this help
# Environment: BENCH_KEEP=1 (keep the temp dir: config, logs, the store), QUEUE_NET (first three
#   octets of the loopback addresses used, default 127.0.78). Disk: about 1.6 KiB a message (1M:
#   about 1.6 GB); the script checks the free space first.
set -euo pipefail
# shellcheck source=lib/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"

SMTP_N=10000 SIZES="100000,1000000" BATCH=1000 REPS=20 IDLE=10 TMO=900 TOTAL=3600 README=1
while getopts "s:q:b:r:i:T:L:nh" o; do
  case "$o" in
    s) SMTP_N="$OPTARG" ;; q) SIZES="$OPTARG" ;; b) BATCH="$OPTARG" ;; r) REPS="$OPTARG" ;;
    i) IDLE="$OPTARG" ;; T) TMO="$OPTARG" ;; L) TOTAL="$OPTARG" ;; n) README=0 ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 0 )) || peers_die "unexpected argument '$1' (-h for help)"
for v in SMTP_N IDLE; do [[ "${!v}" =~ ^[0-9]+$ ]] || peers_die "$v must be a number"; done
for v in BATCH REPS TMO TOTAL; do [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || peers_die "$v must be a positive integer"; done
[[ "$SIZES" =~ ^[0-9]+(,[0-9]+)*$ ]] || peers_die "-q: a comma-separated list of sizes"
IFS=',' read -r -a SIZE_LIST <<<"$SIZES"
prev=$SMTP_N
for q in "${SIZE_LIST[@]}"; do
  (( q > prev )) || peers_die "-q: sizes must grow, and exceed -s ($SMTP_N)"
  prev=$q
done
(( SMTP_N <= 200000 && prev <= 2000000 && BATCH <= 5000 && REPS <= 1000 && IDLE <= 600 && TMO <= 3600 && TOTAL <= 4 * 3600 )) ||
  peers_die "bounds: -s<=200000, sizes<=2000000, -b<=5000, -r<=1000, -i<=600, -T<=3600, -L<=14400"
NET="${QUEUE_NET:-127.0.78}"
[[ "$NET" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || peers_die "QUEUE_NET must be 127.X.Y"
PN_ADDR="$NET.1" DEAD_ADDR="$NET.2" SINK_ADDR="$NET.3"

ensure_smtp_peers   # smtp-source and smtp-sink
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"   # log, die, free_port, wait_listen, make_tmp, track_pid, stop_pid, ...

START_S=$(date +%s)
left() { echo $(( TOTAL - ($(date +%s) - START_S) )); }   # seconds left of -L
step_tmo() { local l; l=$(left); (( l > 0 )) || die "out of time (-L $TOTAL)"; (( l < TMO )) && echo "$l" || echo "$TMO"; }

make_tmp queue-scale
need_kb=$(( prev * 16 / 10 + 200000 ))
avail_kb=$(df -Pk "$BENCH_TMP" | awk 'NR == 2 { print $4 }')
(( avail_kb > need_kb * 2 )) || die "not enough disk under $BENCH_TMP: ${avail_kb} KiB free, about $((need_kb * 2)) KiB wanted"
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$PEERS_DIR/results"
RESULTS="$PEERS_DIR/results/queue-$STAMP.txt"
: >"$RESULTS"
COMMAND="bench/queue-scale.sh -s $SMTP_N -q $SIZES -b $BATCH -r $REPS -i $IDLE"
log "date: $(date -Is)"
log "machine: $(machine_line)"
log "postern $(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo '?') on node $("$NODE24" --version); temp dir $BENCH_TMP"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo '?'; }
db_mib() { du -cm "$DB"* 2>/dev/null | awk 'END { print $1 }'; }
emit() { printf 'RESULT queue %s\n' "$*" | tee -a "$RESULTS"; }

# ---------------------------------------------------------------- the sink (restart probe)
SINK_PORT=$(free_port 12680)
SINK_OUT="$BENCH_TMP/sink.count"
smtp-sink -c -4 -u nobody -h sink.relay.test "$SINK_ADDR:$SINK_PORT" 256 >"$SINK_OUT" 2>"$BENCH_TMP/sink.err" &
SINK_PID=$!; track_pid "$SINK_PID"
wait_listen tcp "$SINK_PORT" 10 "$SINK_PID" || die "smtp-sink did not start: $(cat "$BENCH_TMP/sink.err")"

# ---------------------------------------------------------------- the node
PN_DIR="$BENCH_TMP/postern" PN_PID=""
PORT=$(free_port 12690)
DNS_PORT=$(free_port $((PORT + 1)))
DB="$PN_DIR/data/postern.db"
mkdir -p "$PN_DIR/zones"
zone() {  # DOMAIN HOST-ADDRESS
  cat <<EOF
\$ORIGIN $1.
\$TTL 86400
@     IN SOA ns.$1. hostmaster.$1. ( 2026112901 7200 3600 1209600 86400 )
      IN NS  ns
ns    IN A   $PN_ADDR
@     IN MX  10 mx
mx    IN A   $2
EOF
}
zone deferred.test "$DEAD_ADDR" >"$PN_DIR/zones/deferred.test.zone"
zone relay.test "$SINK_ADDR" >"$PN_DIR/zones/relay.test.zone"
cat >"$PN_DIR/postern.toml" <<EOF
# a private Postern node for bench/queue-scale.sh (generated)
hostname = "mx.example.test"
data_dir = "$PN_DIR/data"

[log]
level = "warn"

[dns]
listen = ["$PN_ADDR:$DNS_PORT"]
zones_dir = "$PN_DIR/zones"
resolvers = ["$PN_ADDR:$DNS_PORT"]

[smtp]
listen = ["$PN_ADDR:$PORT"]
# deferred.test's MX host refuses on this port; relay.test's (the sink) listens on it
outbound_port = $SINK_PORT
max_connections_per_ip = 1000

[queue]
# first attempt at once, then ten days: nothing is retried during the run
retry_schedule = ["0s", "10d"]
max_age = "30d"
delay_warning = "30d"

[[domain]]
name = "example.test"
role = "primary"
EOF
PN="$NODE24 $REPO_DIR/bin/postern.js"
$PN alias add b@example.test b@deferred.test --config "$PN_DIR/postern.toml" >/dev/null || die "alias add failed"
$PN alias add c@example.test c@relay.test --config "$PN_DIR/postern.toml" >/dev/null || die "alias add failed"

stop_postern() {  # SIGINT, the clean stop; prints the seconds it took
  local i t0
  [[ -n "$PN_PID" ]] || { echo 0; return 0; }
  t0=$(now)
  if alive "$PN_PID"; then
    kill -INT "$PN_PID" 2>/dev/null || true
    for ((i = 0; i < 1200; i++)); do alive "$PN_PID" || break; sleep 0.05; done
    alive "$PN_PID" && { log "postern ignored SIGINT for 60s; killing it"; kill -KILL "$PN_PID" 2>/dev/null || true; }
  fi
  wait "$PN_PID" 2>/dev/null || true
  PN_PID=""
  secs "$t0" "$(now)"
}
add_cleanup 'stop_postern >/dev/null'

PROBES=0
# Starts the node; sets START_LISTEN_S (until SMTP listens) and START_SERVE_S (until a probe
# message sent right then has reached the sink: the queue runner has recovered and delivers).
start_postern() {
  local t0 t1 base
  t0=$(now)
  (cd "$REPO_DIR" && exec $PN start --config "$PN_DIR/postern.toml") >>"$PN_DIR/postern.log" 2>&1 &
  PN_PID=$!; track_pid "$PN_PID"
  wait_listen tcp "$PORT" "$(step_tmo)" "$PN_PID" || { tail -20 "$PN_DIR/postern.log" >&2; die "postern did not start"; }
  t1=$(now); START_LISTEN_S=$(secs "$t0" "$t1")
  base=$("$BENCH_HOME/lib/relay-sink-count.sh" "$SINK_OUT")
  timeout --foreground 60 smtp-source -s 1 -m 1 -l 1024 -M client.example.test -f a@example.test -t c@example.test \
    "$PN_ADDR:$PORT" >/dev/null 2>&1 || die "the probe message was not accepted"
  timeout --foreground "$(step_tmo)" "$BENCH_HOME/lib/relay-sink-count.sh" "$SINK_OUT" $((base + 1)) "$(step_tmo)" ||
    { tail -20 "$PN_DIR/postern.log" >&2; die "the probe did not reach the sink"; }
  START_SERVE_S=$(secs "$t0" "$(now)")
  PROBES=$((PROBES + 1))
}

queue_step() {  # LABEL: the scheduling step through the store (server stopped)
  local out
  out=$(timeout --foreground "$(step_tmo)" "$NODE24" "$BENCH_HOME/lib/queue-scale.ts" step "$DB" "$REPS") || die "the scheduling step failed at $1"
  emit "step queued=$1 ${out#step }"
}

# ---------------------------------------------------------------- 1-2: empty queue
# The store exists (alias add made it); nothing queued yet.
queue_step 0
start_postern
emit "start queued=0 listen_s=$START_LISTEN_S serving_s=$START_SERVE_S rss_mib=$(rss_mib "$PN_PID") db_mib=$(db_mib)"
QUEUED=0

# ---------------------------------------------------------------- 3: SMTP enqueue
if (( SMTP_N > 0 )); then
  t0=$(now)
  timeout --foreground "$(step_tmo)" smtp-source -d -s 20 -m "$SMTP_N" -l 1024 -M client.example.test \
    -f a@example.test -t b@example.test "$PN_ADDR:$PORT" >"$BENCH_TMP/smtp-source.log" 2>&1 ||
    { tail -5 "$BENCH_TMP/smtp-source.log" >&2; die "smtp-source failed"; }
  t1=$(now)
  timeout --foreground "$(step_tmo)" "$NODE24" "$BENCH_HOME/lib/queue-scale.ts" attempted "$DB" "$SMTP_N" "$(step_tmo)" ||
    die "the SMTP-enqueued messages were not all attempted"
  t2=$(now)
  QUEUED=$SMTP_N
  emit "smtp-enqueue queued=$QUEUED secs=$(secs "$t0" "$t1") msgs_per_s=$(awk -v n="$SMTP_N" -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }') all_deferred_after_s=$(secs "$t0" "$t2") rss_mib=$(rss_mib "$PN_PID") db_mib=$(db_mib)"
fi

# ---------------------------------------------------------------- 4: larger queues
for size in "${SIZE_LIST[@]}"; do
  stop_s=$(stop_postern)
  out=$(timeout --foreground "$(step_tmo)" "$NODE24" "$BENCH_HOME/lib/queue-scale.ts" fill "$DB" "$QUEUED" "$size" "$BATCH") ||
    die "filling the queue to $size failed"
  emit "store-fill queued=$size added=$((size - QUEUED)) ${out#fill n=* } db_mib=$(db_mib)"
  QUEUED=$size
  queue_step "$QUEUED"
  start_postern
  rss1=$(rss_mib "$PN_PID")
  sleep "$IDLE"
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$PN_PID/stat")
  emit "restart queued=$QUEUED stop_s=$stop_s listen_s=$START_LISTEN_S serving_s=$START_SERVE_S rss_mib=$rss1 rss_after_idle_mib=$(rss_mib "$PN_PID") cpu_s_since_start=$cpu idle_s=$IDLE db_mib=$(db_mib)"
done
counts=$(timeout 120 "$NODE24" "$BENCH_HOME/lib/queue-count.ts" "$DB" || echo '?')
stop_postern >/dev/null
log "queue at the end: $counts (plus $PROBES probes delivered)"
if grep -q '"level":\(50\|60\)' "$PN_DIR/postern.log" 2>/dev/null; then
  log "postern logged errors:"; grep '"level":\(50\|60\)' "$PN_DIR/postern.log" | head -5 >&2
fi

# ---------------------------------------------------------------- the table
TABLE="$(awk '
  function kv(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  function ms(k,   v) { v = kv(k); if (v !~ /\//) return v; sub(/\//, " (max ", v); return v ") ms" }
  $1 == "RESULT" && $2 == "queue" {
    q = kv("queued")
    if ($3 == "step") printf "| %s | scheduling step (store, server stopped) | claim, nothing due %s; claim 20 due %s; claim 20 with all due %s; nextAttemptAt %s; releaseLeases %s; deleteFinished %s | median of %s (all due: of 3) |\n", q, ms("claim_idle_ms"), ms("claim_20_due_ms"), ms("claim_20_all_due_ms"), ms("next_attempt_ms"), ms("release_leases_ms"), ms("delete_finished_ms"), kv("reps")
    else if ($3 == "start") printf "| %s | first start | listening %s s; delivering (probe at the sink) %s s; VmRSS %s MiB | store %s MiB |\n", q, kv("listen_s"), kv("serving_s"), kv("rss_mib"), kv("db_mib")
    else if ($3 == "smtp-enqueue") printf "| %s | SMTP enqueue (smtp-source, 20 sessions, 1 KiB) | %s msg/s (%s s); all tried once and deferred after %s s; VmRSS %s MiB | store %s MiB |\n", q, kv("msgs_per_s"), kv("secs"), kv("all_deferred_after_s"), kv("rss_mib"), kv("db_mib")
    else if ($3 == "store-fill") printf "| %s | fill through the Store API (enqueue, %s more) | %s msg/s (%s s) | not over SMTP; store %s MiB |\n", q, kv("added"), kv("msgs_per_s"), kv("secs"), kv("db_mib")
    else if ($3 == "restart") printf "| %s | restart | stop %s s; listening %s s; delivering (probe at the sink) %s s; VmRSS %s MiB, %s MiB after %s s idle (%s s CPU since start) | store %s MiB |\n", q, kv("stop_s"), kv("listen_s"), kv("serving_s"), kv("rss_mib"), kv("rss_after_idle_mib"), kv("idle_s"), kv("cpu_s_since_start"), kv("db_mib")
  }
  BEGIN { print "| queued | step | figures | notes |"; print "|---:|---|---|---|" }' "$RESULTS")"
printf '\n%s\n\n' "$TABLE"
if (( README )); then
  RM="$BENCH_HOME/README.md"
  [[ -f "$RM" ]] || printf '# Benchmarks\n\n## Runs\n' >"$RM"
  {
    printf '\n### queue-scale, %s\n\n' "$(date -Is)"
    printf 'Machine: %s. Postern %s, Node %s. No peer: absolute figures and their growth.\n' "$(machine_line)" \
      "$(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo '?')" "$("$NODE24" --version)"
    printf 'Command: `%s`. Deferred: b@example.test aliased to b@deferred.test, whose MX refuses connections; retry schedule 0s, 10d. Queue at the end: %s.\n\n' "$COMMAND" "$counts"
    printf '%s\n\n```\n%s\n```\n' "$TABLE" "$(sed 's/^/    /' "$RESULTS")"
  } >>"$RM"
  log "appended to $RM"
fi
log "RESULT lines: $RESULTS"
