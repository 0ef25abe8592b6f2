# shellcheck shell=bash
# Source this file (do not run it), after bench/lib/peers.sh and the harness's lib/common.sh:
# Dovecot for bench/imap.sh, fetched and run without being installed.
#
# ensure_imap_peers: a Dovecot 2.3 (dovecot-core, -imapd, -pop3d and the two libraries a Debian 12
#   machine lacks) fetched with `apt-get download` and unpacked with `dpkg -x` into
#   bench/.peers/root, unless the machine has Dovecot installed.
# start_dovecot DIR IMAPS_PORT POP3S_PORT USER PASSWORD: a private Dovecot on 127.0.0.1 (implicit
#   TLS on both ports, a self-signed certificate made here), its files under DIR; sets DOVECOT_PID.
#
# An unpacked Dovecot looks for its helpers, modules and libraries under /usr/lib/dovecot (compiled
# in: RUNPATH, the module directory of its TLS code, the services' executables), and its master
# runs /usr/bin/doveconf to read a config file. Neither is there when the package is not installed,
# and we do not install it. So the unpacked one runs in a mount namespace of its own
# (`unshare -m`, private propagation) in which bench/.peers/root/usr/lib is laid over /usr/lib by a
# read-only overlay: only that process tree sees /usr/lib/dovecot, nothing on the machine changes,
# and the namespace goes away with the process. doveconf is run from bench/.peers and hands the
# parsed config to the master itself (`doveconf -e`).
#
# Users: the package's installation creates the users dovecot and dovenull; unpacking does not.
# Dovecot needs an unprivileged user for its internal processes (default_internal_user) and for
# the login processes (default_login_user); both are set to nobody/nogroup, which every Debian
# system has. (The package uses two users so that a compromised login process cannot reach the
# auth and config processes; that separation does not matter to a benchmark on loopback.) The
# mail itself belongs to nobody too (uid 65534 in the passwd-file).

IMAP_DOVECOT_SYSTEM=0

ensure_imap_peers() {
  ensure_harness
  use_peer_root
  if [[ -x /usr/sbin/dovecot && -d /usr/lib/dovecot/modules && -x /usr/lib/dovecot/imap && -x /usr/lib/dovecot/pop3 ]]; then
    IMAP_DOVECOT_SYSTEM=1
  elif [[ ! -x "$PEERS_ROOT/usr/sbin/dovecot" || ! -x "$PEERS_ROOT/usr/lib/dovecot/imap" || ! -x "$PEERS_ROOT/usr/lib/dovecot/pop3" ]]; then
    local need=(dovecot-core dovecot-imapd dovecot-pop3d) p
    for p in libexttextcat-2.0-0 libexttextcat-data liblua5.4-0; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
    done
    fetch_debs "${need[@]}"
  fi
  command -v python3 >/dev/null || peers_die "python3 not found (the IMAP/POP3 load is Python)"
  command -v openssl >/dev/null || peers_die "openssl not found (makes Dovecot's certificate)"
  command -v unshare >/dev/null || peers_die "unshare not found (util-linux)"
  [[ -x "$NODE24" ]] || peers_die "$NODE24 missing: run npm install in $REPO_DIR first"
  getent passwd nobody >/dev/null && getent group nogroup >/dev/null || peers_die "no user nobody or group nogroup"
}

dovecot_version() {
  if (( IMAP_DOVECOT_SYSTEM )); then /usr/sbin/dovecot --version 2>/dev/null
  else dpkg-deb -f "$(ls "$PEERS_DIR"/debs/dovecot-core_*.deb | head -1)" Version 2>/dev/null; fi
}

start_dovecot() {  # DIR IMAPS_PORT POP3S_PORT USER PASSWORD
  local d="$1" imaps="$2" pop3s="$3" user="$4" pass="$5"
  mkdir -p "$d/run" "$d/state" "$d/home"
  chown nobody:nogroup "$d/home"
  chmod 0755 "$d"
  printf '%s:{PLAIN}%s:65534:65534::%s::\n' "$user" "$pass" "$d/home" >"$d/users"
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=imap.example.test" \
    -keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
  chmod 0644 "$d/users" "$d/cert.pem" "$d/key.pem"
  cat >"$d/dovecot.conf" <<EOF
# a private Dovecot for bench/imap.sh (generated); Maildir, implicit TLS, passwd-file user
base_dir = $d/run
state_dir = $d/state
instance_name = bench-imap-$$
protocols = imap pop3
listen = 127.0.0.1
ssl = required
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
auth_mechanisms = plain login
log_path = $d/dovecot.log
info_log_path = $d/dovecot-info.log
mail_location = maildir:~/Maildir
# mail_fsync = optimized (the default): each APPENDed file is fsynced before it is renamed into
# the Maildir and before the OK, so an APPEND is durable as Postern's commit is.
default_internal_user = nobody
default_internal_group = nogroup
default_login_user = nobody
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $pop3s
  }
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
EOF
  if (( IMAP_DOVECOT_SYSTEM )); then
    /usr/bin/doveconf -n -c "$d/dovecot.conf" >/dev/null 2>"$d/confcheck.err" || { cat "$d/confcheck.err" >&2; die "bad dovecot.conf"; }
    /usr/sbin/dovecot -F -c "$d/dovecot.conf" >"$d/dovecot.out" 2>&1 &
  else
    local r="$PEERS_ROOT"
    LD_LIBRARY_PATH="$r/usr/lib/dovecot:$r/usr/lib/x86_64-linux-gnu" "$r/usr/bin/doveconf" -n -c "$d/dovecot.conf" \
      >/dev/null 2>"$d/confcheck.err" || { cat "$d/confcheck.err" >&2; die "bad dovecot.conf"; }
    # unshare, sh and doveconf each exec the next: DOVECOT_PID is the master's own PID.
    unshare -m --propagation private sh -c '
      mount -t overlay bench-dovecot -o "lowerdir=$1/usr/lib:/usr/lib" /usr/lib || exit 97
      exec "$1/usr/bin/doveconf" -c "$2" -e "$1/usr/sbin/dovecot" -F -c "$2"' sh "$r" "$d/dovecot.conf" \
      >"$d/dovecot.out" 2>&1 &
  fi
  DOVECOT_PID=$!
  track_pid "$DOVECOT_PID"
  if ! wait_listen tcp "$imaps" 20 "$DOVECOT_PID" || ! wait_listen tcp "$pop3s" 20 "$DOVECOT_PID"; then
    cat "$d/dovecot.out" "$d/dovecot.log" >&2 2>/dev/null || true
    die "dovecot did not start"
  fi
}
