#!/usr/bin/env bash
# connections.sh - many idle connections held open: Postern's memory and its answer to a new client.
#
#   bench/connections.sh [options]
#
# Starts Haraka (the peer, from bench/.peers: see bench/lib/peers.sh) and has the load client
# bench/lib/conn-load.ts hold N idle SMTP connections to it (banner, EHLO, then silence); then a
# private Postern node on loopback (SMTP, and IMAP over implicit TLS; primary domain example.test,
# account b@example.test) with N idle SMTP connections and N IMAP sessions in IDLE (LOGIN, SELECT
# INBOX, IDLE) held at once. While they are held: the server's resident memory (VmRSS, VmHWM from
# /proc/PID/status), its CPU use, and the response time of a new client (connect to banner and to
# the EHLO reply; connect to the IMAP greeting and to LOGIN OK), sampled -S times, median and max,
# against the same probes before anything was held. Then one message is sent by SMTP to the
# account and the IDLE sessions that report its EXISTS within -E seconds are counted, and every
# held SMTP connection gets a NOOP: what is still alive at the end. Prints the table (peer figure,
# Postern figure, ratio or target, settings) and appends the run to bench/README.md.
# Connections come from many source addresses (127.61.x.y for SMTP, 127.62.x.y for IMAP, -P per
# address): Postern's IMAP allows 50 sessions per client address, and one address has only the
# ephemeral port range. The bench config sets every idle timeout above the run's length (SMTP
# servers legitimately close idle clients after minutes: RFC 5321 asks for 5; IMAP's autologout
# is 30 minutes), and raises Postern's connection limits where its config has them.
#
# Options:
#   -c N       idle SMTP connections (default 10000)
#   -i N       IMAP IDLE sessions (default 10000)
#   -P N       connections per source address (default 50)
#   -H SECS    hold, once all are open, before the probes (default 30); its CPU time is measured
#   -S N       new-client probes, before the load and while it is held (default 20)
#   -E SECS    how long the IDLE sessions get to report the delivered message (default 60)
#   -p LIST    peers: haraka (default), or "none"
#   -R DIR     the Postern checkout to run (default this repository; e.g. a scratch copy with a fix)
#   -L SECS    time limit of the whole run (default 3600)
#   -C         profile Postern: run it under node --cpu-prof (profile kept in
#              bench/.peers/profiles/), no peers, no README entry, and print where the time went
#   -M         Postern's memory: a heap snapshot at the start of the hold (kept in
#              bench/.peers/profiles/), no peers, no README entry, and print what the heap holds
#   -n         do not append the run to bench/README.md
#   -h         this help
# Environment: POSTERN_PEERS (where to copy the peer harness from), BENCH_KEEP=1 (keep the temp
#   dir: configs, logs, the Postern store), HARAKA_LOG_LEVEL (default info, Haraka's shipped one).
# Raises the open-files limit to what the sockets need (root; where the hard limit cannot be
# raised, the SMTP count is cut to fit, and the table says so).
set -euo pipefail
# shellcheck source=lib/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"

SMTP_N=10000 IMAP_N=10000 PER_SRC=50 HOLD=30 SAMPLES=20 EXISTS_S=60 PEER_LIST=haraka
PN_REPO="$REPO_DIR" TOTAL=3600 PROFILE=0 HEAP=0 README=1
while getopts "c:i:P:H:S:E:p:R:L:CMnh" o; do
  case "$o" in
    c) SMTP_N="$OPTARG" ;; i) IMAP_N="$OPTARG" ;; P) PER_SRC="$OPTARG" ;; H) HOLD="$OPTARG" ;;
    S) SAMPLES="$OPTARG" ;; E) EXISTS_S="$OPTARG" ;; p) PEER_LIST="$OPTARG" ;; R) PN_REPO="$OPTARG" ;;
    L) TOTAL="$OPTARG" ;; C) PROFILE=1 ;; M) HEAP=1 ;; n) README=0 ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 0 )) || peers_die "unexpected argument '$1' (-h for help)"
for v in SMTP_N IMAP_N HOLD SAMPLES EXISTS_S; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || peers_die "$v must be a number"
done
for v in PER_SRC TOTAL; do [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || peers_die "$v must be a positive integer"; done
(( SMTP_N <= 30000 && IMAP_N <= 30000 && HOLD <= 1800 && SAMPLES <= 200 && EXISTS_S <= 600 && TOTAL <= 4 * 3600 )) ||
  peers_die "bounds: -c<=30000 -i<=30000 -H<=1800 -S<=200 -E<=600 -L<=14400"
(( (SMTP_N + PER_SRC - 1) / PER_SRC <= 254 * 190 && (IMAP_N + PER_SRC - 1) / PER_SRC <= 254 * 190 )) || peers_die "-P too small for -c/-i"
PN_REPO="$(cd "$PN_REPO" && pwd)"
[[ -f "$PN_REPO/bin/postern.js" ]] || peers_die "-R $PN_REPO: no bin/postern.js there"
(( PROFILE + HEAP < 2 )) || peers_die "-C and -M: one at a time"
if (( PROFILE || HEAP )); then PEER_LIST=none; README=0; fi
[[ "$PEER_LIST" == none ]] && PEER_LIST=""
[[ -z "$PEER_LIST" || "$PEER_LIST" == haraka ]] || peers_die "unknown peer list '$PEER_LIST' (haraka or none)"

# Each held connection is a descriptor in the server (all of them in one process) and one in the
# client (its SMTP connections are held by a child process of their own). Both inherit this limit;
# without CAP_SYS_RESOURCE the hard limit cannot be raised, and then the SMTP count is cut so that
# the server can hold everything at once (IMAP keeps its count: IDLE is the harder test).
REQ_SMTP_N=$SMTP_N
FD_SPARE=300   # the server's own descriptors: database, WAL, listeners, epoll, node's internals
NOFILE=$(( SMTP_N + IMAP_N + FD_SPARE ))
HARD=$(ulimit -Hn)
if [[ "$HARD" != unlimited ]] && (( HARD < NOFILE )); then
  ulimit -Hn "$NOFILE" 2>/dev/null || true
  HARD=$(ulimit -Hn)
fi
FD_NOTE=""
if [[ "$HARD" != unlimited ]] && (( HARD < NOFILE )); then
  (( HARD > IMAP_N + FD_SPARE )) || peers_die "open-files hard limit $HARD is too low for -i $IMAP_N"
  FD_NOTE="open files limited to $HARD per process (hard limit, not raisable here): SMTP cut from $SMTP_N"
  SMTP_N=$(( HARD - IMAP_N - FD_SPARE ))
  FD_NOTE+=" to $SMTP_N so that the server holds everything at once"
  peers_log "$FD_NOTE"
  NOFILE=$HARD
fi
SOFT=$(ulimit -Sn)
[[ "$SOFT" == unlimited ]] || (( SOFT >= NOFILE )) || ulimit -Sn "$NOFILE"

ensure_smtp_peers
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"   # log, die, free_port, wait_listen, make_tmp, track_pid, stop_pid, ...

START_S=$(date +%s)
left() { echo $(( TOTAL - ($(date +%s) - START_S) )); }   # seconds left of -L
# The client's own deadline: what is left of -L, less a margin for stopping the servers.
client_deadline() { local l; l=$(( $(left) - 30 )); (( l > 60 )) || die "out of time (-L $TOTAL)"; echo "$l"; }

make_tmp connections
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$PEERS_DIR/results"
RESULTS="$PEERS_DIR/results/connections-$STAMP.txt"     # the RESULT lines of this run
: >"$RESULTS"
COMMAND="bench/connections.sh -c $REQ_SMTP_N -i $IMAP_N -P $PER_SRC -H $HOLD -S $SAMPLES -E $EXISTS_S -p ${PEER_LIST:-none}"
[[ "$PN_REPO" == "$REPO_DIR" ]] || COMMAND+=" -R $PN_REPO"
SERVER_ADDR=127.60.0.1   # this benchmark's own listen address; clients come from 127.61-63.x.y
CLIENT=("$NODE24" "$BENCH_HOME/lib/conn-load.ts")
# The bench's sessions must outlast the run: idle timeouts set past the whole run's length.
IDLE_TIMEOUT_S=$(( TOTAL + 600 ))

log "date: $(date -Is)"
log "machine: $(machine_line)"
log "postern $(cd "$PN_REPO" && git describe --always --dirty 2>/dev/null || echo '?') ($PN_REPO) on node $("$NODE24" --version); open files $(ulimit -n)"

# ---------------------------------------------------------------- Haraka
HARAKA_HOME="$PEERS_DIR/peers/haraka"
HK_PID=""
stop_haraka() { [[ -z "$HK_PID" ]] || stop_tree "$HK_PID" 10; HK_PID=""; }
add_cleanup stop_haraka
if [[ "$PEER_LIST" == haraka && "$SMTP_N" -gt 0 ]]; then
  hk="$BENCH_TMP/haraka" hport=$(free_port 12700)
  mkdir -p "$hk/config" "$hk/plugins" "$hk/spool"
  cp "$HARAKA_HOME/instance/plugins/"*.js "$hk/plugins/"
  cp "$HARAKA_HOME/instance/config/host_list" "$HARAKA_HOME/instance/config/me" "$hk/config/"
  cp "$HARAKA_HOME/node_modules/Haraka/config/connection.ini" "$hk/config/"
  cp "$HARAKA_HOME/instance/config/plugins.discard" "$hk/config/plugins"
  sed "s/^level=.*/level=${HARAKA_LOG_LEVEL:-info}/" "$HARAKA_HOME/instance/config/log.ini" >"$hk/config/log.ini"
  # The harness's template closes idle clients after 60 s; here they must outlast the run. nodes=0:
  # one process (Haraka's default, nodes=1, is a master and one forked worker that holds the
  # connections, and the memory read would be the idle master's).
  sed -e "s/@LISTEN@/$SERVER_ADDR:$hport/" -e "s/@NODES@/nodes=0/" -e "s/^inactivity_timeout=.*/inactivity_timeout=$IDLE_TIMEOUT_S/" \
    "$HARAKA_HOME/instance/config/smtp.ini.in" >"$hk/config/smtp.ini"
  YES_REALLY_DO_DISCARD=1 node "$HARAKA_HOME/node_modules/Haraka/bin/haraka" -c "$hk" >"$hk/haraka.log" 2>&1 &
  HK_PID=$!; track_pid "$HK_PID"
  wait_listen tcp "$hport" 60 "$HK_PID" || { tail -20 "$hk/haraka.log" >&2; die "haraka did not start"; }
  sleep 2   # let it finish loading its plugins before the baseline memory is read
  log "haraka on $SERVER_ADDR:$hport (pid $HK_PID, node $(node --version))"
  rc=0
  timeout --foreground --kill-after=30 "$(left)" "${CLIENT[@]}" --label haraka --pid "$HK_PID" \
    --smtp "$SERVER_ADDR:$hport" --smtp-n "$SMTP_N" --per-source "$PER_SRC" \
    --hold "$HOLD" --samples "$SAMPLES" --deadline "$(client_deadline)" | tee -a "$RESULTS" || rc=$?
  (( rc == 0 )) || log "the run against haraka ended with status $rc"
  stop_haraka
fi

# ---------------------------------------------------------------- Postern
PN_DIR="$BENCH_TMP/postern"
# shellcheck source=lib/postern-node.sh
. "$BENCH_HOME/lib/postern-node.sh"   # stop_postern, PN_PID
add_cleanup stop_postern

SPORT=$(free_port 12610)
IPORT=$(free_port $((SPORT + 1)))
DEAD_PORT=$(free_port $((IPORT + 1)))   # a resolver nobody answers: this node resolves nothing
mkdir -p "$PN_DIR"
write_config() {  # WITH_IMAP_LIMITS(0|1)
  cat <<EOF
# a private Postern node for bench/connections.sh (generated)
hostname = "mx.example.test"
data_dir = "$PN_DIR/data"

[log]
level = "warn"

[dns]
resolvers = ["127.0.0.1:$DEAD_PORT"]

[smtp]
listen = ["$SERVER_ADDR:$SPORT"]
# N idle connections from loopback, from a few hundred addresses, held past the default 5 minutes
max_connections = $(( SMTP_N + 1000 ))
max_connections_per_ip = $(( PER_SRC + 1000 ))
idle_timeout = "${IDLE_TIMEOUT_S}s"

[imap]
# implicit TLS: LOGIN is refused in clear text (LOGINDISABLED) except after STARTTLS
tls_listen = ["$SERVER_ADDR:$IPORT"]
EOF
  if (( $1 )); then
    cat <<EOF
max_connections = $(( IMAP_N + 1000 ))
max_connections_per_ip = $(( PER_SRC + 1000 ))
idle_timeout = "${IDLE_TIMEOUT_S}s"
EOF
  fi
  cat <<EOF

[[domain]]
name = "example.test"
role = "primary"
EOF
}
# Postern's [imap] section may not have connection limits (then its built-in ones apply: the
# account add below fails on the unknown keys, and the config is written again without them).
IMAP_LIMITS="config"
write_config 1 >"$PN_DIR/postern.toml"
add_account() {
  printf 'benchpass\n' | timeout 120 "$NODE24" "$PN_REPO/bin/postern.js" account add b@example.test \
    --password-stdin --config "$PN_DIR/postern.toml" >/dev/null 2>"$PN_DIR/account.err"
}
if ! add_account; then
  if grep -qi 'imap' "$PN_DIR/account.err"; then
    IMAP_LIMITS="built-in"
    log "this Postern has no [imap] connection limits in its config: its built-in ones apply"
    write_config 0 >"$PN_DIR/postern.toml"
    add_account || { cat "$PN_DIR/account.err" >&2; die "postern account add failed"; }
  else
    cat "$PN_DIR/account.err" >&2; die "postern account add failed"
  fi
fi

PROF_ARGS=() PROF_DIR="" HEAP_ARGS=()
if (( PROFILE || HEAP )); then PROF_DIR="$PEERS_DIR/profiles/connections-$STAMP"; mkdir -p "$PROF_DIR"; fi
(( PROFILE )) && PROF_ARGS=(--cpu-prof "--cpu-prof-dir=$PROF_DIR")
# The snapshot is written into the server's working directory: run it from PROF_DIR then.
(( HEAP )) && { PROF_ARGS=(--heapsnapshot-signal=SIGUSR2); HEAP_ARGS=(--heap-snapshot); }
(cd "${PROF_DIR:-$PN_REPO}" && exec "$NODE24" "${PROF_ARGS[@]}" "$PN_REPO/bin/postern.js" start --config "$PN_DIR/postern.toml") \
  >"$PN_DIR/postern.log" 2>&1 &
PN_PID=$!; track_pid "$PN_PID"
wait_listen tcp "$SPORT" 60 "$PN_PID" && wait_listen tcp "$IPORT" 60 "$PN_PID" ||
  { cat "$PN_DIR/postern.log" >&2; die "postern did not start"; }
sleep 2
log "postern on $SERVER_ADDR:$SPORT (SMTP), $SERVER_ADDR:$IPORT (IMAP, TLS) (pid $PN_PID), IMAP limits: $IMAP_LIMITS"

rc=0
timeout --foreground --kill-after=30 "$(left)" "${CLIENT[@]}" --label postern --pid "$PN_PID" \
  --smtp "$SERVER_ADDR:$SPORT" --smtp-n "$SMTP_N" --imap "$SERVER_ADDR:$IPORT" --imap-n "$IMAP_N" \
  --user b@example.test --password benchpass --per-source "$PER_SRC" --deliver b@example.test \
  --exists-timeout "$EXISTS_S" --hold "$HOLD" --samples "$SAMPLES" --deadline "$(client_deadline)" "${HEAP_ARGS[@]}" |
  tee -a "$RESULTS" || rc=$?
(( rc == 0 )) || log "the run against postern ended with status $rc"
if grep -q '"level":\(50\|60\)' "$PN_DIR/postern.log" 2>/dev/null; then
  log "postern logged errors:"; grep '"level":\(50\|60\)' "$PN_DIR/postern.log" | head -5 >&2
fi
stop_postern

if (( HEAP )); then
  snap=$(ls -t "$PROF_DIR"/*.heapsnapshot 2>/dev/null | head -1 || true)
  [[ -n "$snap" ]] || die "no heap snapshot was written to $PROF_DIR"
  held=$(awk '$1 == "RESULT" && $4 == "imap-hold" { for (i = 5; i <= NF; i++) if ($i ~ /^held=/) print substr($i, 6) }' "$RESULTS")
  "$NODE24" "$BENCH_HOME/lib/conn-heap-summary.ts" "$snap" 30 "${held:-0}" | tee "$PROF_DIR/heap-summary.txt"
  log "heap snapshot: $snap (summary beside it; per session: divided by the $held IMAP sessions held)"
fi
if (( PROFILE )); then
  prof=$(ls -t "$PROF_DIR"/*.cpuprofile 2>/dev/null | head -1 || true)
  [[ -n "$prof" ]] || die "no profile was written to $PROF_DIR"
  "$NODE24" "$BENCH_HOME/lib/cpu-profile-summary.ts" "$prof" 25 | tee "$PROF_DIR/summary.txt"
  log "profile: $prof (summary beside it)"
fi

# ---------------------------------------------------------------- the table
# RESULT conn LABEL WHAT key=value...
TABLE="$(awk -v smtp_n="$SMTP_N" -v imap_n="$IMAP_N" -v hold="$HOLD" -v samples="$SAMPLES" -v exs="$EXISTS_S" -v lim="$IMAP_LIMITS" '
  $1 == "RESULT" && $2 == "conn" {
    for (i = 5; i <= NF; i++) { k = substr($i, 1, index($i, "=") - 1); v[$3, $4, k] = substr($i, index($i, "=") + 1) }
    seen[$3] = 1
  }
  function g(who, what, k) { return ((who, what, k) in v) ? v[who, what, k] : "" }
  function mib(kib) { return (kib == "" || kib == "NA") ? "" : sprintf("%.0f MiB", kib / 1024) }
  function ratio(p, q) { return (p + 0 > 0 && q + 0 > 0) ? sprintf("%.2f", p / q) : "" }
  function ms(a, b) { return (a == "") ? "" : a " / " b " ms" }
  function row(fig, peer, pf, pn, r, target, set) { printf "| %s | %s | %s | %s | %s | %s | %s |\n", fig, peer, pf, pn, r, target, set }
  END {
    hk = ("haraka" in seen); peer = hk ? "Haraka (discard, 1 process)" : "(none)"
    set_s = sprintf("%s SMTP from 127.61.x.y, banner + EHLO each", smtp_n)
    set_i = sprintf("%s IMAP over TLS from 127.62.x.y, LOGIN + SELECT INBOX + IDLE; IMAP limits: %s", imap_n, lim)
    print "| figure | peer | peer figure | Postern figure | Postern / peer | target | settings |"
    print "|---|---|---:|---:|---:|---|---|"
    row("idle SMTP connections held", peer, g("haraka", "smtp-hold", "held"), g("postern", "smtp-hold", "held"), "", "all " smtp_n, set_s "; opened in " g("haraka", "smtp-hold", "open_s") " s (peer) / " g("postern", "smtp-hold", "open_s") " s")
    row("SMTP answering NOOP at the end", peer, g("haraka", "smtp-hold", "noop_ok"), g("postern", "smtp-hold", "noop_ok"), "", "all held", "after the hold, the probes and the delivery")
    row("resident memory, SMTP connections held (VmRSS)", peer, mib(g("haraka", "memory", "smtp_rss_kib")), mib(g("postern", "memory", "smtp_rss_kib")), ratio(g("postern", "memory", "smtp_rss_kib"), g("haraka", "memory", "smtp_rss_kib")), "", "before any load: " mib(g("haraka", "memory", "base_rss_kib")) " / " mib(g("postern", "memory", "base_rss_kib")))
    row("memory per idle SMTP connection", peer, g("haraka", "memory", "per_smtp_kib") " KiB", g("postern", "memory", "per_smtp_kib") " KiB", ratio(g("postern", "memory", "per_smtp_kib"), g("haraka", "memory", "per_smtp_kib")), "", "VmRSS growth / connections held")
    row("new SMTP client, connect to banner, median / max", peer, ms(g("haraka", "probe-smtp", "banner_med_ms"), g("haraka", "probe-smtp", "banner_max_ms")), ms(g("postern", "probe-smtp", "banner_med_ms"), g("postern", "probe-smtp", "banner_max_ms")), ratio(g("postern", "probe-smtp", "banner_med_ms"), g("haraka", "probe-smtp", "banner_med_ms")), "<= 100 ms", samples " samples while all are held; with nothing held: " ms(g("haraka", "probe-smtp-0", "banner_med_ms"), g("haraka", "probe-smtp-0", "banner_max_ms")) " / " ms(g("postern", "probe-smtp-0", "banner_med_ms"), g("postern", "probe-smtp-0", "banner_max_ms")))
    row("new SMTP client, connect to EHLO reply, median / max", peer, ms(g("haraka", "probe-smtp", "ehlo_med_ms"), g("haraka", "probe-smtp", "ehlo_max_ms")), ms(g("postern", "probe-smtp", "ehlo_med_ms"), g("postern", "probe-smtp", "ehlo_max_ms")), ratio(g("postern", "probe-smtp", "ehlo_med_ms"), g("haraka", "probe-smtp", "ehlo_med_ms")), "<= 100 ms", samples " samples; with nothing held: " ms(g("haraka", "probe-smtp-0", "ehlo_med_ms"), g("haraka", "probe-smtp-0", "ehlo_max_ms")) " / " ms(g("postern", "probe-smtp-0", "ehlo_med_ms"), g("postern", "probe-smtp-0", "ehlo_max_ms")))
    row("IMAP sessions in IDLE held", "", "", g("postern", "imap-hold", "held") " (refused " g("postern", "imap-hold", "refused") ", failed " g("postern", "imap-hold", "failed") ")", "", "all " imap_n, set_i "; opened in " g("postern", "imap-hold", "open_s") " s")
    row("IDLE sessions reporting the delivered message", "", "", g("postern", "imap-hold", "exists_seen") " of " g("postern", "imap-hold", "exists_watched"), "", "all held", "EXISTS within " exs " s of the 250; median / max " g("postern", "imap-hold", "exists_med_ms") " / " g("postern", "imap-hold", "exists_max_ms") " ms")
    row("resident memory, everything held (VmRSS)", "", "", mib(g("postern", "memory", "hold_rss_kib")), "", "<= 1024 MiB", "after the " hold " s hold; per IMAP session " g("postern", "memory", "per_imap_kib") " KiB")
    row("peak resident memory (VmHWM)", "", "", mib(g("postern", "memory", "hwm_kib")), "", "<= 1024 MiB", "over the whole run, opening included")
    row("new IMAP client, connect to greeting (TLS), median / max", "", "", ms(g("postern", "probe-imap", "greeting_med_ms"), g("postern", "probe-imap", "greeting_max_ms")), "", "<= 100 ms", samples " samples, " g("postern", "probe-imap", "ok") " answered; with nothing held: " ms(g("postern", "probe-imap-0", "greeting_med_ms"), g("postern", "probe-imap-0", "greeting_max_ms")))
    row("new IMAP client, connect to LOGIN OK, median / max", "", "", ms(g("postern", "probe-imap", "login_med_ms"), g("postern", "probe-imap", "login_max_ms")), "", "<= 100 ms", "includes one scrypt (N=2^15); with nothing held: " ms(g("postern", "probe-imap-0", "login_med_ms"), g("postern", "probe-imap-0", "login_max_ms")))
    row("server CPU while everything is idle", peer, g("haraka", "cpu", "cpu_pct") " %", g("postern", "cpu", "cpu_pct") " %", "", "", "over the " hold " s hold, % of one core")
  }' "$RESULTS")"
SPREADS="$(grep '^RESULT' "$RESULTS" | sed 's/^/    /' || true)"

printf '\n%s\n\n' "$TABLE"
if (( README )); then
  RM="$BENCH_HOME/README.md"
  [[ -f "$RM" ]] || printf '# Benchmarks\n\n## Runs\n' >"$RM"
  {
    printf '\n### connections, %s\n\n' "$(date -Is)"
    printf 'Machine: %s. Postern %s, Node %s; Haraka %s on Node %s.\n' "$(machine_line)" \
      "$(cd "$PN_REPO" && git describe --always --dirty 2>/dev/null || echo '?')" "$("$NODE24" --version)" \
      "$(node -p "require('$HARAKA_HOME/node_modules/Haraka/package.json').version" 2>/dev/null || echo '?')" \
      "$(node --version 2>/dev/null || echo '?')"
    printf 'Command: `%s` (load client bench/lib/conn-load.ts; idle timeouts of both servers set past the run).\n\n' "$COMMAND"
    [[ -z "$FD_NOTE" ]] || printf 'Note: %s.\n\n' "$FD_NOTE"
    printf '%s\n\nEvery figure:\n\n```\n%s\n```\n' "$TABLE" "$SPREADS"
  } >>"$RM"
  log "appended to $RM"
fi
log "RESULT lines: $RESULTS"
