# shellcheck shell=bash
# Source this file (do not run it): sets up bench/.peers, the real servers Postern is measured
# against, and finds the tools. Nothing here starts a daemon or touches a system service.
#
# bench/.peers is the working copy of the peer harness (smtp-peers.sh, smtp-load.sh, dns-load.sh,
# imap-peers.sh, lib/common.sh, Haraka's and NSD's instance configs): bench/harness, committed so that
# a clean clone runs every benchmark on its own, or $POSTERN_PEERS to try another copy.
# Binaries a machine lacks are fetched, never installed: `apt-get download` + `dpkg -x` into
# bench/.peers/root (put first on PATH), and Haraka with npm into bench/.peers/peers/haraka.

BENCH_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$BENCH_HOME/.." && pwd)"
PEERS_DIR="$BENCH_HOME/.peers"
PEERS_ROOT="$PEERS_DIR/root"
NODE24="$REPO_DIR/node_modules/.bin/node"

peers_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
peers_die() { peers_log "ERROR: $*"; exit 1; }

# The harness scripts: copied on every run (they are small), so an edit of bench/harness counts at
# once; what was fetched into the copy (root/, debs/, Haraka's node_modules) stays.
ensure_harness() {
  local src=""
  if [[ -n "${POSTERN_PEERS:-}" ]]; then src="$POSTERN_PEERS"
  else src="$BENCH_HOME/harness"
  fi
  [[ -n "$src" && -f "$src/smtp-load.sh" ]] ||
    peers_die "no peer harness in $src (smtp-load.sh missing): restore bench/harness, or set POSTERN_PEERS to a copy of it"
  mkdir -p "$PEERS_DIR"
  cp -r "$src/." "$PEERS_DIR/"
  chmod -R u+w "$PEERS_DIR"
}

# Debian packages the machine lacks: downloaded and unpacked, not installed.
fetch_debs() {  # PACKAGE...
  mkdir -p "$PEERS_DIR/debs" "$PEERS_ROOT"
  command -v apt-get >/dev/null || peers_die "apt-get not found: install $* by hand"
  peers_log "fetching $* (apt-get download, dpkg -x into $PEERS_ROOT)"
  (cd "$PEERS_DIR/debs" && timeout 300 apt-get download "$@") >&2 || peers_die "apt-get download $* failed"
  local d
  for d in "$PEERS_DIR"/debs/*.deb; do dpkg -x "$d" "$PEERS_ROOT"; done
}

# Tools fetched into bench/.peers/root come first.
use_peer_root() {
  export PATH="$PEERS_ROOT/usr/sbin:$PEERS_ROOT/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$PEERS_ROOT/usr/lib/x86_64-linux-gnu:$PEERS_ROOT/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

ensure_smtp_peers() {
  ensure_harness
  use_peer_root
  if ! command -v smtp-source >/dev/null || ! command -v postfix >/dev/null; then
    # A private Postfix run from an unpacked package still needs the postfix user and the
    # postdrop group, which only the package's installation creates.
    fetch_debs postfix
    getent passwd postfix >/dev/null && getent group postdrop >/dev/null ||
      peers_log "WARNING: no postfix user or postdrop group: smtp-source and smtp-sink work, a private Postfix will not"
  fi
  if [[ ! -f "$PEERS_DIR/peers/haraka/node_modules/Haraka/package.json" ]]; then
    command -v npm >/dev/null || peers_die "npm not found (needed to fetch Haraka)"
    peers_log "fetching Haraka with npm into $PEERS_DIR/peers/haraka"
    (cd "$PEERS_DIR/peers/haraka" && timeout 600 npm install --no-audit --no-fund) >&2 || peers_die "npm install of Haraka failed"
  fi
  [[ -x "$NODE24" ]] || peers_die "$NODE24 missing: run npm install in $REPO_DIR first"
}

ensure_dns_peers() {
  ensure_harness
  use_peer_root
  local need=()
  command -v nsd >/dev/null || need+=(nsd)
  command -v dnsperf >/dev/null || need+=(dnsperf libldns3 libck0)
  (( ${#need[@]} == 0 )) || fetch_debs "${need[@]}"
  command -v dig >/dev/null || peers_log "WARNING: dig not found (bind9-dnsutils): the NSD sanity check needs it"
  [[ -x "$NODE24" ]] || peers_die "$NODE24 missing: run npm install in $REPO_DIR first"
}
