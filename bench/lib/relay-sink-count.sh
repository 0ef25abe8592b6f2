#!/usr/bin/env bash
# relay-sink-count.sh FILE [AT_LEAST MAX_S]
# How many messages an `smtp-sink -c` has received: it rewrites one counter line
# ("sess=N quit=N mesg=N", ended by CR) on its standard output at every final dot, and
# bench/smtp-relay.sh sends that output to FILE. With one argument: print the count. With
# AT_LEAST and MAX_S: wait until the count is at least AT_LEAST (exit 0), or give up after MAX_S
# seconds (exit 1). Polled every 20 ms: that bounds the error of the end-to-end figure and
# costs the sink nothing (only the file's last bytes are read).
set -u
file="$1" at_least="${2:-}" max="${3:-600}"
count() {
  local c
  c=$(tail -c 200 "$file" 2>/dev/null | tr '\r' '\n' | awk -F'mesg=' 'NF > 1 { n = $2 + 0 } END { print n + 0 }')
  echo "${c:-0}"
}
if [[ -z "$at_least" ]]; then count; exit 0; fi
end=$(( $(date +%s) + max ))
n=$(count)
while (( n < at_least )); do
  if (( $(date +%s) >= end )); then
    echo "relay-sink-count: only $n of $at_least messages reached the sink after ${max}s" >&2
    exit 1
  fi
  sleep 0.02
  n=$(count)
done
exit 0
