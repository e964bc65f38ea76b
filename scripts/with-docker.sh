#!/usr/bin/env bash
# Run a command with a Docker engine: install docker.io, docker-compose and debootstrap from Debian
# when missing (as root, where apt-get exists), start dockerd when none answers, and stop the engine
# it started when the command ends. Where no engine can start, the command still runs (the compose
# tests then skip, saying why).
set -uo pipefail

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "with-docker: installing ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null ||
      echo "with-docker: could not install ${missing[*]}"
  else
    echo "with-docker: ${missing[*]} missing and not installable here (needs root and apt-get)"
  fi
fi

started=""
if ! docker info >/dev/null 2>&1 && command -v dockerd >/dev/null; then
  log=$(mktemp -t dockerd.XXXXXX.log)
  echo "with-docker: starting dockerd (log: $log)"
  dockerd >"$log" 2>&1 &
  started=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$started" 2>/dev/null || { echo "with-docker: dockerd exited: $(tail -3 "$log")"; started=""; break; }
    sleep 1
  done
fi
stop_engine() {
  if [[ -n "$started" ]]; then
    echo "with-docker: stopping the dockerd it started (pid $started)"
    kill "$started" 2>/dev/null
    wait "$started" 2>/dev/null
  fi
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

"$@"
