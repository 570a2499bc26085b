#!/usr/bin/env bash
# Integration fixture: starts (or reuses) the local Kafka and PostgreSQL, creates a fresh
# test database with the migrations and the sample data, and starts the three services
# with a topic prefix of their own. Writes the environment the tests source.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
: "${MC_BUILD_DIR:?}"
FIXTURE="${MC_FIXTURE:-itest}" # one directory, database and topic prefix per fixture
DIR="$MC_BUILD_DIR/$FIXTURE"
mkdir -p "$DIR"

"$ROOT/deploy/infra.sh" start
eval "$("$ROOT/deploy/infra.sh" env)"

db="medclear_$FIXTURE"
base="${MC_DB_CONNINFO}"
psql "$base" -XAtq -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
prefix="$FIXTURE$(date +%s)"
cat >"$DIR/env" <<ENV
export MEDCLEAR_DB_CONNINFO='${base/dbname=medclear/dbname=$db}'
export MEDCLEAR_TOPIC_PREFIX=$prefix
export MEDCLEAR_KAFKA_BOOTSTRAP_SERVERS=$MC_KAFKA_BROKERS
export MC_RUN_DIR='$DIR/run'
export MC_KAFKA_BROKERS=$MC_KAFKA_BROKERS
export MEDCLEAR_TREATING_CLAIM_TIMEOUT_MS=5000
export MEDCLEAR_CLEARING_WINDOW_PERIOD='${MC_WINDOW_PERIOD:-1 month}'
ENV
# shellcheck disable=SC1091
source "$DIR/env"
medclear=("$MC_BUILD_DIR/services/tool/medclear" -c "$ROOT/deploy/config/medclear.conf")
"${medclear[@]}" db migrate
"${medclear[@]}" data load "$ROOT/deploy/sample"
# Services an earlier run left behind would serve the old database and topics, and its
# logs would be read again by fixture_cleanup.sh: stop them and start afresh.
"$ROOT/deploy/network.sh" stop
rm -f "$MC_RUN_DIR"/*.log "$MC_RUN_DIR"/*.log.prev
"$ROOT/deploy/network.sh" start
