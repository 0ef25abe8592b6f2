#!/usr/bin/env bash
# imap.sh - a 10,000-message mailbox over IMAP and POP3: Postern against Dovecot, same corpus, same run.
#
#   bench/imap.sh [options]
#
# Generates (once; kept in bench/.peers/corpus-SEED-N) a fixed corpus of real-mail sizes and
# structures with bench/lib/imap-corpus.py, starts a private Dovecot 2.3 on loopback (Maildir,
# bench/lib/imap-peers-setup.sh), fills its INBOX by APPENDing the corpus over IMAP and measures it
# with bench/lib/imap-load.py; then does the same against a private Postern node (primary domain
# example.test, account bench@example.test, IMAP and POP3 on implicit-TLS listeners). Both servers
# get the same login (bench@example.test / benchpass), the same messages in the same order with the
# same INTERNALDATEs, and the same client over TLS: Postern refuses a password on a plain
# connection, so Dovecot is given TLS as well (TLS 1.3, the same cipher on both: see the log).
# Figures: APPEND rate (durable on both), FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE), FETCH of
# 1,000 whole bodies, SEARCH by header (FROM, SUBJECT) and by body text, POP3 RETR of all.
# Prints the table (Dovecot, Postern, the ratio, settings) and appends the run to bench/README.md.
#
# Options:
#   -m N       messages in the mailbox (default 10000)
#   -r RUNS    timed runs of each read test, the median is reported (default 3; APPEND runs once:
#              it fills the mailbox)
#   -w N       untimed warm-up runs of each read test (default 1)
#   -t LIST    tests: append,fetch-struct,fetch-bodies,search-header,search-body,pop3-retr
#              (default all; append always runs, it fills the mailbox, but is reported only if listed)
#   -p LIST    peers: dovecot, or "none" for Postern alone (default dovecot)
#   -s SEED    corpus seed (default 6)
#   -T SECS    time limit of one test run (default 600)
#   -L SECS    time limit of the whole run (default 3600)
#   -C         profile Postern: fill it unprofiled, then run the read tests (or, with -t append,
#              the APPEND) under node --cpu-prof (profiles in bench/.peers/profiles/); no peer, no
#              README entry; prints where the time went
#   -n         do not append the run to bench/README.md
#   -h         this help
# Environment: POSTERN_PEERS (where to copy the peer harness from), BENCH_KEEP=1 (keep the temp
#   dir: configs, logs, the Maildir and the Postern store).
# Needs root (Dovecot drops privileges; the unpacked one runs in a private mount namespace).
set -euo pipefail
# shellcheck source=lib/peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"

MSGS=10000 RUNS=3 WARM=1 TESTS="append,fetch-struct,fetch-bodies,search-header,search-body,pop3-retr"
PEER_LIST=dovecot SEED=6 TMO=600 TOTAL=3600 PROFILE=0 README=1
while getopts "m:r:w:t:p:s:T:L:Cnh" o; do
  case "$o" in
    m) MSGS="$OPTARG" ;; r) RUNS="$OPTARG" ;; w) WARM="$OPTARG" ;; t) TESTS="$OPTARG" ;;
    p) PEER_LIST="$OPTARG" ;; s) SEED="$OPTARG" ;; T) TMO="$OPTARG" ;; L) TOTAL="$OPTARG" ;;
    C) PROFILE=1 ;; n) README=0 ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 0 )) || peers_die "unexpected argument '$1' (-h for help)"
for v in MSGS RUNS TMO TOTAL; do [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || peers_die "$v must be a positive integer"; done
[[ "$WARM" =~ ^[0-9]+$ && "$SEED" =~ ^[0-9]+$ ]] || peers_die "-w and -s must be numbers"
(( MSGS >= 10 && MSGS <= 50000 && RUNS <= 20 && WARM <= 5 && TMO <= 3600 && TOTAL <= 4 * 3600 )) ||
  peers_die "bounds: -m 10..50000 -r<=20 -w<=5 -T<=3600 -L<=14400"
for t in ${TESTS//,/ }; do
  [[ ",append,fetch-struct,fetch-bodies,search-header,search-body,pop3-retr," == *",$t,"* ]] || peers_die "unknown test '$t'"
done
case "$PEER_LIST" in dovecot) ;; none) PEER_LIST="" ;; *) peers_die "-p: dovecot or none" ;; esac
if (( PROFILE )); then PEER_LIST=""; README=0; fi
# shellcheck source=lib/imap-peers-setup.sh
. "$BENCH_HOME/lib/imap-peers-setup.sh"

ensure_imap_peers
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"   # log, die, free_port, wait_listen, make_tmp, track_pid, stop_tree, ...

START_S=$(date +%s)
left() { echo $(( TOTAL - ($(date +%s) - START_S) )); }
make_tmp bench-imap
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$PEERS_DIR/results"
RESULTS="$PEERS_DIR/results/imap-$STAMP.txt"
: >"$RESULTS"
USER_NAME=bench@example.test PASSWORD=benchpass
# append fills the mailbox, so it always runs (first); it is reported only when asked for
LOAD_TESTS="append,${TESTS//append/}"; LOAD_TESTS="${LOAD_TESTS//,,/,}"; LOAD_TESTS="${LOAD_TESTS//,,/,}"; LOAD_TESTS="${LOAD_TESTS%,}"
READ_TESTS="${TESTS//append/}"; READ_TESTS="${READ_TESTS//,,/,}"; READ_TESTS="${READ_TESTS#,}"; READ_TESTS="${READ_TESTS%,}"
COMMAND="bench/imap.sh -m $MSGS -r $RUNS -w $WARM -t $TESTS -p ${PEER_LIST:-none} -s $SEED"

log "date: $(date -Is)"
log "machine: $(machine_line)"
log "postern $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?') on node $("$NODE24" --version); dovecot $(dovecot_version); $(python3 --version 2>&1)"

# ---------------------------------------------------------------- the corpus
CORPUS="$PEERS_DIR/corpus-$SEED-$MSGS"
if [[ ! -f "$CORPUS/manifest.txt" ]]; then
  log "generating the corpus ($MSGS messages, seed $SEED) into $CORPUS"
  rm -rf "$CORPUS.tmp"
  timeout 600 python3 "$BENCH_HOME/lib/imap-corpus.py" --out "$CORPUS.tmp" --messages "$MSGS" --seed "$SEED" >/dev/null ||
    die "corpus generation failed"
  mv "$CORPUS.tmp" "$CORPUS"
fi
MANIFEST="$(head -3 "$CORPUS/manifest.txt" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
log "corpus: $MANIFEST"
cat "$CORPUS"/*.eml >/dev/null   # in the page cache before anything is timed

run_load() {  # LABEL IMAP_HP POP3_HP TESTS
  local rc=0
  timeout --foreground --kill-after=30 "$(left)" python3 "$BENCH_HOME/lib/imap-load.py" --label "$1" \
    --imap "$2" --pop3 "$3" --tls --user "$USER_NAME" --password "$PASSWORD" --corpus "$CORPUS" \
    --messages "$MSGS" --runs "$RUNS" --warmup "$WARM" --tests "$4" --timeout "$TMO" | tee -a "$RESULTS" || rc=$?
  (( rc == 0 )) || log "the load against $1 ended with status $rc"
}

# ---------------------------------------------------------------- Dovecot
DV_DIR="$BENCH_TMP/dovecot" DOVECOT_PID=""
if [[ -n "$PEER_LIST" ]]; then
  DV_IMAPS=$(free_port 11993); DV_POP3S=$(free_port 11995)
  [[ "$DV_POP3S" != "$DV_IMAPS" ]] || DV_POP3S=$(free_port $((DV_IMAPS + 1)))
  start_dovecot "$DV_DIR" "$DV_IMAPS" "$DV_POP3S" "$USER_NAME" "$PASSWORD"
  log "dovecot on 127.0.0.1:$DV_IMAPS (IMAPS) and :$DV_POP3S (POP3S), pid $DOVECOT_PID"
  sync
  run_load dovecot "127.0.0.1:$DV_IMAPS" "127.0.0.1:$DV_POP3S" "$LOAD_TESTS"
  grep -i -E 'error|fatal|panic' "$DV_DIR/dovecot.log" 2>/dev/null | head -5 >&2 || true
  stop_tree "$DOVECOT_PID" 10
  DOVECOT_PID=""
fi

# ---------------------------------------------------------------- Postern
PN_DIR="$BENCH_TMP/postern"
# shellcheck source=lib/postern-node.sh
. "$BENCH_HOME/lib/postern-node.sh"   # stop_postern, PN_PID
add_cleanup stop_postern

PN_IMAPS=$(free_port 12993); PN_POP3S=$(free_port 12995)
[[ "$PN_POP3S" != "$PN_IMAPS" ]] || PN_POP3S=$(free_port $((PN_IMAPS + 1)))
DEAD_PORT=$(free_port $((PN_POP3S + 1)))   # a resolver nobody answers: this node resolves nothing
mkdir -p "$PN_DIR"
cat >"$PN_DIR/postern.toml" <<EOF
# a private Postern node for bench/imap.sh (generated)
hostname = "mx.example.test"
data_dir = "$PN_DIR/data"

[log]
level = "warn"

[dns]
resolvers = ["127.0.0.1:$DEAD_PORT"]

[imap]
tls_listen = ["127.0.0.1:$PN_IMAPS"]

[pop3]
tls_listen = ["127.0.0.1:$PN_POP3S"]

[[domain]]
name = "example.test"
role = "primary"
EOF
printf '%s\n' "$PASSWORD" | timeout 120 "$NODE24" "$REPO_DIR/bin/postern.js" account add "$USER_NAME" \
  --password-stdin --config "$PN_DIR/postern.toml" >/dev/null || die "postern account add failed"

start_postern() {  # [node options...]
  (cd "$REPO_DIR" && exec "$NODE24" "$@" bin/postern.js start --config "$PN_DIR/postern.toml") >>"$PN_DIR/postern.log" 2>&1 &
  PN_PID=$!; track_pid "$PN_PID"
  wait_listen tcp "$PN_IMAPS" 60 "$PN_PID" && wait_listen tcp "$PN_POP3S" 30 "$PN_PID" ||
    { cat "$PN_DIR/postern.log" >&2; die "postern did not start"; }
  log "postern on 127.0.0.1:$PN_IMAPS (IMAPS) and :$PN_POP3S (POP3S), pid $PN_PID, store $PN_DIR/data"
}

PROF_DIR=""
if (( PROFILE )); then
  PROF_DIR="$PEERS_DIR/profiles/imap-$STAMP"; mkdir -p "$PROF_DIR"
  PROF=(--cpu-prof "--cpu-prof-dir=$PROF_DIR")
  if [[ "$TESTS" == append ]]; then
    start_postern "${PROF[@]}"
    run_load postern "127.0.0.1:$PN_IMAPS" "127.0.0.1:$PN_POP3S" append
  else
    start_postern
    run_load postern-fill "127.0.0.1:$PN_IMAPS" "127.0.0.1:$PN_POP3S" append
    stop_postern
    start_postern "${PROF[@]}"
    run_load postern "127.0.0.1:$PN_IMAPS" "127.0.0.1:$PN_POP3S" "$READ_TESTS"
  fi
else
  start_postern
  sync
  run_load postern "127.0.0.1:$PN_IMAPS" "127.0.0.1:$PN_POP3S" "$LOAD_TESTS"
fi
if grep -q '"level":\(50\|60\)' "$PN_DIR/postern.log" 2>/dev/null; then
  log "postern logged errors:"; grep '"level":\(50\|60\)' "$PN_DIR/postern.log" | head -5 >&2
fi
stop_postern

if (( PROFILE )); then
  prof=$(ls -t "$PROF_DIR"/*.cpuprofile 2>/dev/null | head -1 || true)
  [[ -n "$prof" ]] || die "no profile was written to $PROF_DIR"
  "$NODE24" "$BENCH_HOME/lib/cpu-profile-summary.ts" "$prof" 30 | tee "$PROF_DIR/summary.txt"
  log "profile: $prof (summary beside it)"
fi

# ---------------------------------------------------------------- the table
# RESULT imap LABEL TEST ops=N runs=a/b median_s=S ops_per_s=R spread=.. [details...]
TABLE="$(awk -v tests=",$TESTS," -v runs="$RUNS" -v warm="$WARM" -v msgs="$MSGS" '
  function kv(k,   i) { for (i = 5; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  function details(   i, s) { s = ""; for (i = 9; i <= NF; i++) if ($i !~ /^spread=/) s = s (s == "" ? "" : " ") $i; return s }
  $1 == "RESULT" && $2 == "imap" && ($3 == "dovecot" || $3 == "postern") && index(tests, "," $4 ",") {
    t = $4; s[$3, t] = kv("median_s"); r[$3, t] = kv("ops_per_s"); d[$3, t] = details()
    if (!(t in seen)) { seen[t] = 1; order[++n] = t }
  }
  function what(t) {
    if (t == "append") return sprintf("APPEND %s messages, one at a time (rate, msg/s)", msgs)
    if (t == "fetch-struct") return "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE) (s)"
    if (t == "fetch-bodies") return sprintf("FETCH of %d whole bodies (every 10th), BODY.PEEK[] (s)", msgs >= 10000 ? 1000 : int(msgs / 10))
    if (t == "search-header") return "SEARCH FROM, then SEARCH SUBJECT (s)"
    if (t == "search-body") return "SEARCH BODY (s)"
    if (t == "pop3-retr") return sprintf("POP3 RETR of all %s (s)", msgs)
    return t
  }
  function fmt(x) { return x == "" ? "n/a" : x }
  END {
    print "| test | Dovecot | Postern | Postern / Dovecot | target | settings |"
    print "|---|---:|---:|---:|---|---|"
    for (i = 1; i <= n; i++) {
      t = order[i]
      if (t == "append") {
        a = r["dovecot", t]; b = r["postern", t]
        ratio = (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f (rate)", b / a) : "n/a"
        printf "| %s | %s | %s | %s | rate >= 1.0x | 1 run; Dovecot: %s; Postern: %s |\n", what(t), fmt(a), fmt(b), ratio, fmt(d["dovecot", t]), fmt(d["postern", t])
      } else {
        a = s["dovecot", t]; b = s["postern", t]
        ratio = (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f (time)", b / a) : "n/a"
        printf "| %s | %s | %s | %s | time <= 1.5x | median of %s runs after %s warm-up; Dovecot: %s; Postern: %s |\n", what(t), fmt(a), fmt(b), ratio, runs, warm, fmt(d["dovecot", t]), fmt(d["postern", t])
      }
    }
  }' "$RESULTS")"
printf '\n%s\n\n' "$TABLE"
if (( README )); then
  RM="$BENCH_HOME/README.md"
  [[ -f "$RM" ]] || printf '# Benchmarks\n\n## Runs\n' >"$RM"
  {
    printf '\n### imap, %s\n\n' "$(date -Is)"
    printf 'Machine: %s. Postern %s, Node %s; dovecot %s; %s.\n' "$(machine_line)" \
      "$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')" "$("$NODE24" --version)" \
      "$(dovecot_version)" "$(python3 --version 2>&1)"
    printf 'Command: `%s` (bench/lib/imap-load.py over implicit TLS on both servers; Dovecot Maildir, mail_fsync=optimized).\n' "$COMMAND"
    printf 'Corpus: %s.\n\n' "$MANIFEST"
    printf '%s\n\n```\n%s\n```\n' "$TABLE" "$(grep '^RESULT' "$RESULTS" | sed 's/^/    /' || true)"
  } >>"$RM"
  log "appended to $RM"
fi
log "RESULT lines: $RESULTS"
