#!/bin/bash
# Stand-in for the official image's entrypoint: `bash ...` and `python ...` run as they are, anything
# else runs as `airflow <command>` (so `command: scheduler` starts the scheduler).
set -euo pipefail
case "${1:-}" in
  bash | python | python3) exec "$@" ;;
  airflow) shift ;;
esac
if [[ "${_AIRFLOW_DB_MIGRATE:-}" == "true" ]]; then
  airflow db migrate
fi
exec airflow "$@"
