# Process helpers shared by tools/lab and tools/board (sourced, not run).

alive() {  # alive PID: it runs (a zombie waiting for init to reap it does not: PID 1 may reap late)
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_pidfile() {  # stop_pidfile FILE NAME SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL; removes FILE
  local f=$1 name=$2 seconds=$3 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((seconds * 10))); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      echo "tools/$(basename "$0"): $name did not stop in $seconds s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$f"
}
