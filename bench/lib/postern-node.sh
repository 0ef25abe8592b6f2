# shellcheck shell=bash
# Source this file after the harness's lib/common.sh (for alive and log): the stop of the private
# Postern node every bench script starts. The script sets PN_PID when it starts the node and adds
# stop_postern to its cleanups.
PN_PID=""

# SIGINT: a clean stop, and the one that makes node write its --cpu-prof profile; KILL after 60 s.
stop_postern() {
  local i
  [[ -n "$PN_PID" ]] || return 0
  if alive "$PN_PID"; then
    kill -INT "$PN_PID" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do alive "$PN_PID" || break; sleep 0.1; done
    alive "$PN_PID" && { log "postern ignored SIGINT for 60s; killing it"; kill -KILL "$PN_PID" 2>/dev/null || true; }
  fi
  wait "$PN_PID" 2>/dev/null || true
  PN_PID=""
}
