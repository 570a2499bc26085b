#!/usr/bin/env bash
#
# deploy/infra.sh - local infrastructure for medclear tests: one Apache Kafka
# broker (KRaft, single node) and one PostgreSQL 15 cluster, both on loopback,
# with their data in a scratch directory. No Docker needed (DESIGN.md section 8).
#
# Usage: deploy/infra.sh <command>
#   install        install missing Debian packages (apt-get, needs root) and
#                  fetch Apache Kafka from Maven Central into the cache
#   start          start Kafka and PostgreSQL (each only if not running), wait
#                  until both are ready
#   stop           stop both (harmless when they are not running)
#   status         print running/stopped for each; exit 0 if both run, 3 if not
#   env            print `export` lines; use: eval "$(deploy/infra.sh env)"
#   reset          stop both and delete the state directory (not the cache)
#   kafka-restart  stop then start Kafka only (fault tests)
#   pg-restart     stop then start PostgreSQL only (fault tests)
#   pg-stop        stop PostgreSQL only, leaving Kafka running (outage tests)
#   pg-start       start PostgreSQL only (after pg-stop)
#   acl PREFIX...  (access control on) grant the network's ACLs for these topic
#                  prefixes too (`start` grants them for MEDCLEAR_TOPIC_PREFIX or mc)
#   users          (access control on) list the users and their password files
#   acl-specs PREFIX  print the kafka-acls --add arguments of the network's ACLs, one
#                  run a line (docker-compose.yml applies them with kafka-acls.sh)
#
# Environment (all optional):
#   MC_STATE_DIR              /tmp/medclear-state   data, logs, pid files
#   MC_CACHE_DIR              $HOME/.cache/medclear  Kafka jars from Maven
#   MC_KAFKA_PORT             19092                  client listener
#   MC_KAFKA_CONTROLLER_PORT  19093                  KRaft controller listener
#   MC_KAFKA_PARTITIONS       4                      partitions of auto-created topics
#   MC_PG_PORT                15432                  PostgreSQL TCP port
#   MC_READY_TIMEOUT          120                    seconds to wait for each server
#   MC_KAFKA_AUTH             none                   scram: SASL/SCRAM logins and ACLs
#                                                    (see "Access control" below); the
#                                                    mode is kept with the broker's data
#   MC_KAFKA_SASL_MECHANISM   SCRAM-SHA-512          or SCRAM-SHA-256
#   MC_KAFKA_REGIONS          the sample regions     region codes that get an agency user
#
# Access control (MC_KAFKA_AUTH=scram): the client listener is SASL_PLAINTEXT on
# loopback, the StandardAuthorizer denies whatever no ACL allows, and these users are
# created when the storage is formatted, each with a generated password in
# $MC_STATE_DIR/kafka/secrets/USER.password (mode 600; USER.kcat beside it is a kcat -F
# file):
#   admin            super user: the broker itself and ACL administration
#   treating, insuring, clearing   the services: read and write only the topics they
#                    use, create them, and use their own consumer group
#   operator         the medclear tool: every topic of the prefix (submit, load,
#                    dlq list/replay) and the groups medclear-*
#   agency-<region>  one per region: writes only <prefix>.intake.<region>, reads only
#                    <prefix>.reply.<region> and the groups agency-<region>*
# Topics are created by the services at start (they hold CREATE on their own topics);
# agencies cannot create topics, so the services start first. `env` prints the
# operator's credentials as MEDCLEAR_KAFKA_* settings; deploy/network.sh gives each
# service its own.
#
# Works from any current directory; runs as root (CI) or as a normal user.
# Output lines are prefixed "infra:".

set -euo pipefail
umask 022

# ---------------------------------------------------------------------------
# Locations and settings
# ---------------------------------------------------------------------------

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
INFRA_DIR="$SCRIPT_DIR/infra"      # templates: server.properties, log4j.properties, kafka-pom.xml

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
MC_STATE_DIR="${MC_STATE_DIR:-/tmp/medclear-state}"
MC_STATE_DIR="${MC_STATE_DIR%/}"
MC_CACHE_DIR="${MC_CACHE_DIR:-$HOME/.cache/medclear}"
MC_KAFKA_PORT="${MC_KAFKA_PORT:-19092}"
MC_KAFKA_CONTROLLER_PORT="${MC_KAFKA_CONTROLLER_PORT:-19093}"
MC_KAFKA_PARTITIONS="${MC_KAFKA_PARTITIONS:-4}"
MC_PG_PORT="${MC_PG_PORT:-15432}"
MC_READY_TIMEOUT="${MC_READY_TIMEOUT:-120}"
MC_KAFKA_SASL_MECHANISM="${MC_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}"

# Debian packages needed to build and test medclear and to run the servers.
APT_PACKAGES=(
  build-essential cmake pkg-config
  librdkafka-dev libpq-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libcunit1-dev libssl-dev libmicrohttpd-dev kcat
  postgresql postgresql-client
  default-jre-headless maven curl procps
  chromium fonts-dejavu-core
  clang libclang-rt-14-dev # libFuzzer and the sanitizer runtimes of the fuzz targets
)

# Kafka: jars fetched by Maven into the cache, run with plain `java -cp`.
KAFKA_VERSION=3.9.1
KAFKA_LIBS="$MC_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_JAR="kafka_2.13-$KAFKA_VERSION.jar"
# Fixed KRaft cluster id: 22 characters of base64url, i.e. 16 bytes, here
# base64url("medclear-local01"). Fixed so that the storage is reusable.
KAFKA_CLUSTER_ID="bWVkY2xlYXItbG9jYWwwMQ"
KAFKA_DIR="$MC_STATE_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_AUTH_FILE="$KAFKA_DIR/auth"       # the access-control mode the storage was formatted with
KAFKA_SECRETS="$KAFKA_DIR/secrets"      # generated passwords (mode 700 directory)
SAMPLE_DIR="$SCRIPT_DIR/sample"

# PostgreSQL: the distribution's server binaries, a private cluster.
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$MC_STATE_DIR/pg"          # also the unix socket directory
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"

STATE_MARKER="$MC_STATE_DIR/.medclear-state"   # guards `reset` against deleting a foreign directory
LOCK_FILE="$MC_STATE_DIR.lock"                 # serialises start/stop/reset (outside the state dir)

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

say() { printf 'infra: %s\n' "$*"; }
die() { printf 'infra: ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $EUID -eq 0 ]]; }

# Print the last lines of a log file to stderr, indented.
show_tail() {
  local file=$1 lines=${2:-40}
  [[ -f $file ]] || return 0
  printf 'infra: --- last %s lines of %s ---\n' "$lines" "$file" >&2
  tail -n "$lines" "$file" | sed 's/^/infra: | /' >&2
}

# run_logged LOG CMD...: run CMD with its output in LOG; on failure show the tail.
run_logged() {
  local log=$1 rc=0
  shift
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    show_tail "$log" 30
    return "$rc"
  fi
}

# True if something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp).
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_number() { [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a number, got '$2'"; }

check_settings() {
  check_number MC_KAFKA_PORT "$MC_KAFKA_PORT"
  check_number MC_KAFKA_CONTROLLER_PORT "$MC_KAFKA_CONTROLLER_PORT"
  check_number MC_KAFKA_PARTITIONS "$MC_KAFKA_PARTITIONS"
  check_number MC_PG_PORT "$MC_PG_PORT"
  check_number MC_READY_TIMEOUT "$MC_READY_TIMEOUT"
  case "${MC_KAFKA_AUTH:-}" in
    "" | none | scram) ;;
    *) die "MC_KAFKA_AUTH must be none or scram, got '$MC_KAFKA_AUTH'" ;;
  esac
  case "$MC_KAFKA_SASL_MECHANISM" in
    SCRAM-SHA-256 | SCRAM-SHA-512) ;;
    *) die "MC_KAFKA_SASL_MECHANISM must be SCRAM-SHA-256 or SCRAM-SHA-512, got '$MC_KAFKA_SASL_MECHANISM'" ;;
  esac
  [[ $MC_STATE_DIR == /* && $MC_STATE_DIR != / ]] || die "MC_STATE_DIR must be an absolute path, got '$MC_STATE_DIR'"
}

# Serialise commands that change server state, so two concurrent callers do
# not both start a server. The lock is held on fd 9 until the script exits;
# daemons are started with `9>&-` so they do not inherit (and keep) it.
take_lock() {
  refuse_foreign_state_dir
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "could not lock $LOCK_FILE (another infra.sh still running?)"
}

# The OS user that owns and runs the PostgreSQL cluster: initdb/pg_ctl refuse
# to run as root, so root delegates to the `postgres` account created by the
# Debian package; anyone else runs it as themselves.
pg_os_user() { if is_root; then echo postgres; else id -un; fi; }

# Run a command as the cluster owner (from a directory that user can enter,
# so the PostgreSQL tools do not complain about the current directory).
as_pg() {
  if is_root; then
    (cd "$MC_STATE_DIR" 2>/dev/null || cd /; exec runuser -u postgres -- "$@")
  else
    (cd "$MC_STATE_DIR" 2>/dev/null || cd /; exec "$@")
  fi
}

# Create the state directory (mode 755: the postgres user must be able to
# traverse it, which is why it must not live under /root) and its marker.
# Never write into (or delete) an existing directory that we did not create.
refuse_foreign_state_dir() {
  if [[ -d $MC_STATE_DIR && ! -e $STATE_MARKER ]] && [[ -n "$(ls -A "$MC_STATE_DIR")" ]]; then
    die "$MC_STATE_DIR exists, is not empty and is not a medclear state directory; choose another MC_STATE_DIR"
  fi
}

ensure_state_dir() {
  refuse_foreign_state_dir
  mkdir -p "$MC_STATE_DIR"
  chmod 755 "$MC_STATE_DIR"
  [[ -e $STATE_MARKER ]] || echo "medclear local infrastructure state (deploy/infra.sh)" >"$STATE_MARKER"
}

# ---------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------

cmd_install() {
  local pkg missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    # "ii" = wanted and installed; anything else (absent, removed, half-configured) counts as missing.
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" == ii* ]] || missing+=("$pkg")
  done

  if ((${#missing[@]} == 0)); then
    say "debian packages: all ${#APT_PACKAGES[@]} present"
  elif ! is_root; then
    say "debian packages missing: ${missing[*]}"
    die "installing them needs root: sudo apt-get install ${missing[*]}  (or run: sudo $0 install)"
  else
    say "debian packages missing: ${missing[*]}"
    mkdir -p "$MC_CACHE_DIR"
    export DEBIAN_FRONTEND=noninteractive
    say "apt-get update (log: $MC_CACHE_DIR/apt-update.log)"
    # Some configured third-party repositories may be unreachable; that must
    # not stop us as long as the Debian archive answers, so only warn here.
    run_logged "$MC_CACHE_DIR/apt-update.log" apt-get update ||
      say "warning: apt-get update reported errors; trying the install anyway"
    say "apt-get install (log: $MC_CACHE_DIR/apt-install.log)"
    run_logged "$MC_CACHE_DIR/apt-install.log" \
      apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}" ||
      die "apt-get install failed"
    say "debian packages: installed ${missing[*]}"
  fi

  fetch_kafka
}

# Fetch Kafka's runtime jars with Maven (kafka-pom.xml). Skipped when the
# cache already holds them. Maven writes into a staging directory that is
# renamed at the end, so an interrupted download is never mistaken for a
# complete one.
fetch_kafka() {
  if [[ -f $KAFKA_LIBS/$KAFKA_JAR ]]; then
    say "kafka $KAFKA_VERSION: already in $KAFKA_LIBS"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (run as root to install the 'maven' package)"
  local staging="$KAFKA_LIBS.partial" t0=$SECONDS
  rm -rf "$staging"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  say "kafka $KAFKA_VERSION: fetching from Maven Central into $KAFKA_LIBS (takes a minute or two)"
  # Output goes to a log: besides errors, Debian's Maven 3.8 prints stray ANSI
  # escape codes even with -B -q.
  run_logged "$MC_CACHE_DIR/maven.log" \
    mvn -B -q -f "$INFRA_DIR/kafka-pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$staging" ||
    die "maven could not fetch Kafka (is Maven Central reachable? log: $MC_CACHE_DIR/maven.log)"
  [[ -f $staging/$KAFKA_JAR ]] || die "maven finished but $KAFKA_JAR is missing in $staging"
  rm -rf "$KAFKA_LIBS"
  mv "$staging" "$KAFKA_LIBS"
  say "kafka $KAFKA_VERSION: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars fetched in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------

# Print the broker's pid if the pid file names a live Kafka process.
kafka_pid() {
  local pid
  [[ -f $KAFKA_PIDFILE ]] || return 1
  read -r pid <"$KAFKA_PIDFILE" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  is_kafka_process "$pid" || return 1
  echo "$pid"
}

# True if $1 is a live (not zombie) process running kafka.Kafka; guards
# against a stale pid file whose pid was reused by something else.
is_kafka_process() {
  local args
  args="$(ps -o args= -p "$1" 2>/dev/null)" || return 1
  [[ $args == *kafka.Kafka* ]]
}

# ---------------------------------------------------------------------------
# Access control (MC_KAFKA_AUTH=scram)
# ---------------------------------------------------------------------------

# The access-control mode: MC_KAFKA_AUTH when set, else the mode the broker's storage
# was formatted with, else none.
kafka_auth() {
  if [[ -n ${MC_KAFKA_AUTH:-} ]]; then
    echo "$MC_KAFKA_AUTH"
  elif [[ -f $KAFKA_AUTH_FILE ]]; then
    cat "$KAFKA_AUTH_FILE"
  else
    echo none
  fi
}
auth_on() { [[ "$(kafka_auth)" == scram ]]; }

# Region codes that get an agency user: MC_KAFKA_REGIONS, else the sample network's
# treating regions and clearing parties.
kafka_regions() {
  if [[ -n ${MC_KAFKA_REGIONS:-} ]]; then
    tr -s ', ' '\n' <<<"$MC_KAFKA_REGIONS" | grep -E '^[0-9]{6}$' | sort -u
  else
    { tail -n +2 "$SAMPLE_DIR/treating/regions.csv"; tail -n +2 "$SAMPLE_DIR/clearing/parties.csv"; } |
      cut -d, -f1 | grep -E '^[0-9]{6}$' | sort -u
  fi
}

kafka_users() {
  local r
  printf '%s\n' admin treating insuring clearing operator
  for r in $(kafka_regions); do printf 'agency-%s\n' "$r"; done
}

# The password of a user (generated by kafka_secrets).
secret_of() { head -n 1 "$KAFKA_SECRETS/$1.password"; }

# Generates a password per user once per state directory, each in USER.password (mode
# 600, in a mode 700 directory), and writes USER.kcat (librdkafka properties for
# `kcat -F`) and admin.properties (Java AdminClient, for AclCommand) beside them.
# Passwords are 24 characters of base64url: nothing to escape in JAAS or --add-scram.
kafka_secrets() {
  local u pw
  (
    umask 077
    mkdir -p "$KAFKA_SECRETS"
    chmod 700 "$KAFKA_SECRETS"
    for u in $(kafka_users); do
      if [[ ! -s $KAFKA_SECRETS/$u.password ]]; then
        pw="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
        printf '%s\n' "$pw" >"$KAFKA_SECRETS/$u.password"
      fi
      pw="$(secret_of "$u")"
      printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=%s\nsasl.username=%s\nsasl.password=%s\n' \
        "$MC_KAFKA_SASL_MECHANISM" "$u" "$pw" >"$KAFKA_SECRETS/$u.kcat"
    done
    pw="$(secret_of admin)"
    printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=%s\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="%s";\n' \
      "$MC_KAFKA_SASL_MECHANISM" "$pw" >"$KAFKA_SECRETS/admin.properties"
  )
}

# StorageTool arguments creating every user with a SCRAM-SHA-256 and a SCRAM-SHA-512
# credential (clients may use either). They are in the argv of the short-lived format
# process only; the broker itself reads the admin password from its properties file.
scram_format_args() {
  local u pw m
  for u in $(kafka_users); do
    pw="$(secret_of "$u")"
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      printf '%s\n' --add-scram "$m=[name=$u,password=$pw]"
    done
  done
}

# One kafka.admin.AclCommand run as admin: ARGS are its --add arguments. The JVM start
# is most of its cost: the classes it loads are kept in a class-data sharing archive in
# the cache, written by the first run (a stale archive is ignored by the JVM).
ACL_CDS="$MC_CACHE_DIR/kafka-$KAFKA_VERSION/aclcommand.jsa"
acl_add() {
  local cds=-XX:SharedArchiveFile="$ACL_CDS"
  [[ -f $ACL_CDS ]] || cds=-XX:ArchiveClassesAtExit="$ACL_CDS"
  java -Xms32m -Xmx128m -XX:TieredStopAtLevel=1 -Xshare:auto "$cds" \
    -Dlog4j.configuration="file:$INFRA_DIR/log4j.properties" -cp "$KAFKA_LIBS/*" \
    kafka.admin.AclCommand --bootstrap-server "127.0.0.1:$MC_KAFKA_PORT" \
    --command-config "$KAFKA_SECRETS/admin.properties" --add "$@"
}

# The AclCommand argument lists granting the network's ACLs for topic prefix $1, one
# list a line (words separated by spaces; no name here contains one).
acl_specs() {
  local p=$1 r lit='--resource-pattern-type literal' pre='--resource-pattern-type prefixed'
  for r in $(kafka_regions); do
    # an agency writes its intake topic only, reads its reply topic and its groups only
    echo "--allow-principal User:agency-$r --operation Write --operation Describe $lit --topic $p.intake.$r"
    echo "--allow-principal User:agency-$r --operation Read --operation Describe $pre --topic $p.reply.$r --group agency-$r"
  done
  # treating: consumes intake and results of its regions, produces replies and claims
  echo "--allow-principal User:treating --operation Read --operation Describe --operation Create $pre --topic $p.intake. --topic $p.results."
  echo "--allow-principal User:treating --operation Write --operation Describe --operation Create $pre --topic $p.reply."
  echo "--allow-principal User:treating --operation Write --operation Describe --operation Create $lit --topic $p.claims --topic $p.dlq"
  # insuring: consumes the claims of its parties, produces results
  echo "--allow-principal User:insuring --operation Read --operation Describe --operation Create $pre --topic $p.claims."
  echo "--allow-principal User:insuring --operation Write --operation Describe --operation Create $lit --topic $p.results --topic $p.dlq"
  # clearing: consumes claims and results, routes them to the parties' topics, events
  echo "--allow-principal User:clearing --operation Read --operation Describe --operation Create $lit --topic $p.claims --topic $p.results"
  echo "--allow-principal User:clearing --operation Write --operation Describe --operation Create $pre --topic $p.claims. --topic $p.results."
  echo "--allow-principal User:clearing --operation Write --operation Describe --operation Create $lit --topic $p.clearing.events --topic $p.dlq"
  # each service's consumer group (group.id default: <prefix>-<role>)
  echo "--allow-principal User:treating --operation Read --operation Describe $lit --group $p-treating"
  echo "--allow-principal User:insuring --operation Read --operation Describe $lit --group $p-insuring"
  echo "--allow-principal User:clearing --operation Read --operation Describe $lit --group $p-clearing"
  # operator (the medclear tool): submit and load write intake and read replies, dlq list
  # reads the dead letters, dlq replay writes back to any source topic; its groups are
  # medclear-submit-*, medclear-load-*, medclear-dlq-list
  echo "--allow-principal User:operator --operation Read --operation Write --operation Describe --operation Create $pre --topic $p."
  echo "--allow-principal User:operator --operation Read --operation Describe $pre --group medclear-"
}

# Grants the ACLs for each topic prefix given, two AclCommand runs at a time (each is
# a JVM start, most of its cost).
kafka_acls() {
  local p line failed=0 t0=$SECONDS log="$KAFKA_DIR/acl.log" lines=() pids=()
  auth_on || die "acl: access control is off (start with MC_KAFKA_AUTH=scram)"
  kafka_pid >/dev/null || die "acl: kafka is not running"
  : >"$log"
  for p in "$@"; do
    [[ $p =~ ^[A-Za-z0-9._-]+$ ]] || die "acl: '$p' is not a topic prefix"
    mapfile -t -O "${#lines[@]}" lines < <(acl_specs "$p")
  done
  if [[ ! -f $ACL_CDS ]]; then
    # shellcheck disable=SC2086  # the words of a line are the arguments
    acl_add ${lines[0]} >>"$log" 2>&1 || failed=1 # alone: it writes the archive
    lines=("${lines[@]:1}")
  fi
  for line in "${lines[@]}"; do
    # shellcheck disable=SC2086  # the words of a line are the arguments
    acl_add $line >>"$log" 2>&1 &
    pids+=($!)
    if ((${#pids[@]} >= 2)); then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  if ((failed)); then
    show_tail "$log"
    die "acl: AclCommand failed (log: $log)"
  fi
  say "kafka: ACLs granted for topic prefix $* ($((SECONDS - t0))s)"
}

# Write $KAFKA_PROPS from the template, substituting the @PLACEHOLDERS@; with access
# control on, server-scram.properties is appended and the file (it holds the admin
# password) is readable by its owner only.
# (The replacements are quoted so that bash 5.2 does not expand '&' in them.)
render_kafka_props() {
  local text listener=PLAINTEXT controller=PLAINTEXT
  if auth_on; then listener=SASL_PLAINTEXT controller=SASL_PLAINTEXT; fi
  text="$(<"$INFRA_DIR/server.properties")"
  if auth_on; then
    text+=$'\n\n'"$(<"$INFRA_DIR/server-scram.properties")"
    text="${text//@MECHANISM@/"$MC_KAFKA_SASL_MECHANISM"}"
    text="${text//@MECHANISM_LC@/"${MC_KAFKA_SASL_MECHANISM,,}"}"
    text="${text//@ADMIN_PASSWORD@/"$(secret_of admin)"}"
  fi
  text="${text//@KAFKA_PORT@/"$MC_KAFKA_PORT"}"
  text="${text//@CONTROLLER_PORT@/"$MC_KAFKA_CONTROLLER_PORT"}"
  text="${text//@PARTITIONS@/"$MC_KAFKA_PARTITIONS"}"
  text="${text//@LOG_DIRS@/"$KAFKA_DATA"}"
  text="${text//@CLIENT_LISTENER@/"$listener"}"
  text="${text//@CONTROLLER_PROTOCOL@/"$controller"}"
  (umask 077; rm -f "$KAFKA_PROPS"; printf '%s\n' "$text" >"$KAFKA_PROPS")
}

# Start the broker in the background unless it already runs. Sets
# KAFKA_LAUNCHED=1 when a new process was started (kafka_wait then waits).
KAFKA_LAUNCHED=0
KAFKA_FORMATTED=0
kafka_launch() {
  local pid port
  KAFKA_LAUNCHED=0
  if pid="$(kafka_pid)"; then
    say "kafka: already running (pid $pid) on 127.0.0.1:$MC_KAFKA_PORT"
    return 0
  fi
  [[ -f $KAFKA_LIBS/$KAFKA_JAR ]] || die "kafka jars not found in $KAFKA_LIBS; run: $0 install"
  command -v java >/dev/null || die "java not found; run: $0 install"
  for port in "$MC_KAFKA_PORT" "$MC_KAFKA_CONTROLLER_PORT"; do
    port_in_use "$port" && die "kafka: port $port is already in use by another process"
  done

  mkdir -p "$KAFKA_DATA"
  local formatted_with=none scram_args=()
  [[ -f $KAFKA_AUTH_FILE ]] && formatted_with="$(<"$KAFKA_AUTH_FILE")"
  if [[ -f $KAFKA_DATA/meta.properties && -n ${MC_KAFKA_AUTH:-} && $MC_KAFKA_AUTH != "$formatted_with" ]]; then
    die "kafka: the storage in $KAFKA_DATA was formatted with MC_KAFKA_AUTH=$formatted_with, not $MC_KAFKA_AUTH; run '$0 reset' first or choose another MC_STATE_DIR"
  fi
  if auth_on; then
    kafka_secrets
    mapfile -t scram_args < <(scram_format_args)
  fi
  render_kafka_props

  # Format the KRaft storage once; afterwards the existing data is reused.
  KAFKA_FORMATTED=0
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    say "kafka: reusing existing data in $KAFKA_DATA"
  else
    say "kafka: formatting new storage in $KAFKA_DATA (cluster id $KAFKA_CLUSTER_ID$(auth_on && echo ", SCRAM users: $(kafka_users | tr '\n' ' ')"))"
    run_logged "$KAFKA_DIR/format.log" \
      java -Dlog4j.configuration="file:$INFRA_DIR/log4j.properties" -cp "$KAFKA_LIBS/*" \
      kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_PROPS" "${scram_args[@]}" ||
      die "kafka: storage format failed"
    kafka_auth >"$KAFKA_AUTH_FILE"
    KAFKA_FORMATTED=1
  fi

  # Keep the previous run's log; a fresh log is needed anyway because
  # readiness is detected by a line in it.
  [[ -f $KAFKA_LOG ]] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.prev"
  rm -f "$KAFKA_PIDFILE"

  # Detached from this shell: nohup (ignore SIGHUP), setsid (own session, so
  # Ctrl-C or a test runner killing our process group does not hit it), no
  # inherited stdin/stdout/stderr (CTest would otherwise wait for it) and not
  # the lock fd. The inner bash records its own pid and then execs java, so
  # the pid file names the JVM whatever setsid does.
  (
    cd "$KAFKA_DIR"
    # shellcheck disable=SC2016  # $$ and "$@" are for the inner shell
    exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
      java -Xms256m -Xmx512m -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$INFRA_DIR/log4j.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
  ) >"$KAFKA_LOG" 2>&1 </dev/null 9>&- &
  KAFKA_LAUNCHED=1
  KAFKA_T0=$SECONDS
  say "kafka: starting (log: $KAFKA_LOG)"
}

# The broker answers a metadata request (only checked when kcat exists).
kafka_answers() {
  local out
  command -v kcat >/dev/null || return 0
  local auth=()
  auth_on && auth=(-F "$KAFKA_SECRETS/admin.kcat")
  out="$(timeout 20 kcat "${auth[@]}" -b "127.0.0.1:$MC_KAFKA_PORT" -L -m 5 2>/dev/null)" || return 1
  [[ $out == *"broker 1 at 127.0.0.1:$MC_KAFKA_PORT"* ]]
}

# Wait until a freshly launched broker is ready, then print its status line.
kafka_wait() {
  local pid="" deadline=$((SECONDS + MC_READY_TIMEOUT))
  ((KAFKA_LAUNCHED)) || return 0
  while :; do
    if [[ -s $KAFKA_PIDFILE ]]; then
      pid="$(kafka_pid)" || {
        show_tail "$KAFKA_LOG"
        die "kafka: the broker exited during startup"
      }
      if grep -q 'Kafka Server started' "$KAFKA_LOG" && kafka_answers; then
        say "kafka: running (pid $pid) on 127.0.0.1:$MC_KAFKA_PORT, ready in $((SECONDS - KAFKA_T0))s"
        return 0
      fi
    fi
    if ((SECONDS >= deadline)); then
      show_tail "$KAFKA_LOG"
      kafka_stop >/dev/null || true
      die "kafka: not ready within ${MC_READY_TIMEOUT}s (stopped it again)"
    fi
    sleep 0.5
  done
}

# Stop the broker: SIGTERM (controlled shutdown), up to 30 s, then SIGKILL.
kafka_stop() {
  local pid i
  if ! pid="$(kafka_pid)"; then
    rm -f "$KAFKA_PIDFILE"
    say "kafka: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    is_kafka_process "$pid" || break
    sleep 0.5
  done
  if is_kafka_process "$pid"; then
    say "kafka: still running after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
      is_kafka_process "$pid" || break
      sleep 0.5
    done
  fi
  rm -f "$KAFKA_PIDFILE"
  say "kafka: stopped (pid $pid)"
}

kafka_status() {
  local pid
  if pid="$(kafka_pid)"; then
    say "kafka: running (pid $pid) on 127.0.0.1:$MC_KAFKA_PORT"
  else
    say "kafka: stopped"
    return 3
  fi
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

pg_running() {
  [[ -f $PG_DATA/PG_VERSION ]] || return 1
  as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_postmaster_pid() { head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?'; }

# The host clients name in MC_DB_CONNINFO: the server's Unix socket directory, $PG_DIR.
# A local socket costs both ends less than loopback TCP, whose every message goes down
# and up the whole IP stack: at 100 requests/s PostgreSQL used 10% and the services 8%
# less CPU (tests/bench/FINDINGS.md, "PostgreSQL through its Unix socket"). Loopback
# TCP when the socket's path would not fit a socket address (107 bytes) or the
# directory's name would need quoting.
pg_client_host() {
  local socket="$PG_DIR/.s.PGSQL.$MC_PG_PORT"
  if [[ ${#socket} -le 107 && $PG_DIR =~ ^/[A-Za-z0-9/._-]+$ ]]; then
    printf '%s' "$PG_DIR"
  else
    printf '127.0.0.1'
  fi
}

# psql as the bootstrap superuser over loopback TCP (trust auth, see pg_hba).
pg_psql() {
  PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$MC_PG_PORT user=postgres dbname=postgres" "$@"
}

# Settings rewritten at every start so that MC_PG_PORT / MC_STATE_DIR changes
# apply; postgresql.conf includes this file (appended once after initdb).
write_pg_settings() {
  as_pg tee "$PG_DATA/medclear.conf" >/dev/null <<EOF
# Written by deploy/infra.sh at every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $MC_PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 200
# Sized for the benchmark's long run (0b8b770): a million requests leave
# about 10 GB of tables and indexes and 23 GB of WAL. With 256MB of shared buffers and
# the default 1GB max_wal_size, backends wrote 4.5 million evicted pages themselves,
# a checkpoint came every 25 s, and half the WAL was full-page images.
shared_buffers = 2GB
max_wal_size = 16GB
wal_compression = lz4
# Autovacuum visits each database every 10 s instead of every minute. The services plan
# their statements once per connection, and the foreign-key checks too: a table analyzed
# while it held a few rows keeps sequential-scan plans, growing slower with every row,
# until the next visit analyzes it again (a fresh database ran at a quarter of its speed
# for its first minute).
autovacuum_naptime = 10s
# The database the services touch stays in shared buffers and the page cache: an index
# probe costs little more than a page read in order. With the default 4.0 the planner
# joined the batches' read-aheads (hundreds of ids) to whole tables of tens of thousands
# of rows by sequential scans and hash joins (tests/bench/FINDINGS.md, "plans that
# read whole tables").
random_page_cost = 1.1
# Durability stays on (the defaults, spelled out): benchmark figures are
# reported with fsync and synchronous_commit on.
fsync = on
synchronous_commit = on
EOF
}

# Scratch cluster on loopback only: every local and 127.0.0.1 connection is
# trusted, no passwords. Never use this configuration on a shared network.
write_pg_hba() {
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by deploy/infra.sh: scratch test cluster listening on loopback only,
# so local and 127.0.0.1 connections are trusted without a password.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
}

# Create the cluster with initdb (once).
pg_initdb() {
  local locale=C available
  # C.UTF-8 is built into Debian 12's glibc; fall back to C elsewhere.
  available="$(locale -a 2>/dev/null || true)"
  grep -qix 'c\.utf-\?8' <<<"$available" && locale=C.UTF-8
  # Left over from an interrupted initdb: start again.
  [[ -e $PG_DATA ]] && rm -rf "$PG_DATA"
  say "postgresql: initdb in $PG_DATA (encoding UTF8, locale $locale)"
  run_logged "$PG_DIR/initdb.log" \
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -E UTF8 --locale="$locale" -U postgres \
    --auth-local=trust --auth-host=trust ||
    die "postgresql: initdb failed"
  write_pg_hba
  printf "\n# medclear local settings (deploy/infra.sh)\ninclude 'medclear.conf'\n" |
    as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# Create role and database `medclear` if missing.
pg_ensure_db() {
  if [[ "$(pg_psql -tA -c "SELECT 1 FROM pg_roles WHERE rolname = 'medclear'")" != 1 ]]; then
    pg_psql -c 'CREATE ROLE medclear LOGIN SUPERUSER' || die "postgresql: could not create role medclear"
    say "postgresql: created role medclear"
  fi
  if [[ "$(pg_psql -tA -c "SELECT 1 FROM pg_database WHERE datname = 'medclear'")" != 1 ]]; then
    pg_psql -c 'CREATE DATABASE medclear OWNER medclear' || die "postgresql: could not create database medclear"
    say "postgresql: created database medclear"
  fi
}

# Checks that need no server; run before anything is started.
pg_preflight() {
  [[ -x $PG_BIN/pg_ctl ]] || die "PostgreSQL 15 not found in $PG_BIN; run: $0 install"
  if is_root; then
    id -u postgres >/dev/null 2>&1 || die "user 'postgres' does not exist; run: $0 install"
    runuser -u postgres -- test -x "$MC_STATE_DIR" ||
      die "user postgres cannot enter $MC_STATE_DIR (a parent directory is private?); set MC_STATE_DIR elsewhere, e.g. under /tmp"
  fi
}

pg_start() {
  local user t0=$SECONDS
  user="$(pg_os_user)"
  pg_preflight

  # $PG_DIR holds the data directory, the log and the unix socket.
  mkdir -p "$PG_DIR"
  chmod 755 "$PG_DIR"
  is_root && chown postgres:postgres "$PG_DIR"

  if pg_running; then
    say "postgresql: already running (pid $(pg_postmaster_pid)) on 127.0.0.1:$MC_PG_PORT"
    pg_ensure_db
    return 0
  fi
  port_in_use "$MC_PG_PORT" && die "postgresql: port $MC_PG_PORT is already in use by another process"

  if [[ -f $PG_DATA/PG_VERSION ]]; then
    say "postgresql: reusing existing cluster in $PG_DATA"
  else
    pg_initdb
  fi
  write_pg_settings

  # pg_ctl -w waits until the server accepts connections; it starts the
  # postmaster in its own session with stdin from /dev/null and output in the log.
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -s -w -t "$MC_READY_TIMEOUT" 9>&-; then
    show_tail "$PG_LOG"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -s >/dev/null 2>&1 || true
    die "postgresql: not ready within ${MC_READY_TIMEOUT}s (as user $user)"
  fi
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$MC_PG_PORT" -t 10 ||
    { show_tail "$PG_LOG"; die "postgresql: started but not accepting TCP connections on 127.0.0.1:$MC_PG_PORT"; }
  pg_ensure_db
  say "postgresql: running (pid $(pg_postmaster_pid), user $user) on 127.0.0.1:$MC_PG_PORT, ready in $((SECONDS - t0))s"
}

pg_stop() {
  if ! pg_running; then
    say "postgresql: not running"
    return 0
  fi
  as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -s -w -t 60 || die "postgresql: pg_ctl stop failed"
  say "postgresql: stopped"
}

pg_status() {
  if pg_running; then
    say "postgresql: running (pid $(pg_postmaster_pid)) on 127.0.0.1:$MC_PG_PORT"
  else
    say "postgresql: stopped"
    return 3
  fi
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_start() {
  take_lock
  ensure_state_dir
  pg_preflight
  kafka_launch     # the JVM boots in the background ...
  pg_start         # ... while PostgreSQL starts
  kafka_wait
  # ACLs live in the metadata log: granted once, when the storage is new.
  if auth_on && ((KAFKA_FORMATTED)); then kafka_acls "${MEDCLEAR_TOPIC_PREFIX:-mc}"; fi
}

cmd_acl() {
  (($# > 0)) || die "acl: name one or more topic prefixes"
  take_lock
  kafka_acls "$@"
}

cmd_users() {
  local u
  auth_on || die "users: access control is off (start with MC_KAFKA_AUTH=scram)"
  [[ -d $KAFKA_SECRETS ]] || die "users: no secrets in $KAFKA_SECRETS (start the broker first)"
  for u in $(kafka_users); do printf '%-16s %s\n' "$u" "$KAFKA_SECRETS/$u.password"; done
}

cmd_stop() {
  take_lock
  kafka_stop
  pg_stop
}

cmd_status() {
  local rc=0
  kafka_status || rc=3
  pg_status || rc=3
  return "$rc"
}

cmd_env() {
  printf 'export MC_KAFKA_BROKERS=%s\n' "127.0.0.1:$MC_KAFKA_PORT"
  printf "export MC_DB_CONNINFO='host=%s port=%s user=medclear dbname=medclear'\n" "$(pg_client_host)" "$MC_PG_PORT"
  printf 'export MC_STATE_DIR=%q\n' "$MC_STATE_DIR"
  if auth_on; then
    # The medclear tool logs in as the operator; deploy/network.sh gives each service
    # its own user. The password stays in its file.
    printf 'export MC_KAFKA_AUTH=scram MC_KAFKA_SECRETS=%q\n' "$KAFKA_SECRETS"
    printf 'export MEDCLEAR_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT MEDCLEAR_KAFKA_SASL_MECHANISM=%s\n' "$MC_KAFKA_SASL_MECHANISM"
    printf 'export MEDCLEAR_KAFKA_SASL_USERNAME=operator MEDCLEAR_KAFKA_SASL_PASSWORD_FILE=%q\n' "$KAFKA_SECRETS/operator.password"
  fi
}

cmd_reset() {
  take_lock
  kafka_stop
  pg_stop
  if [[ -d $MC_STATE_DIR ]]; then
    [[ -e $STATE_MARKER ]] || die "$MC_STATE_DIR has no $(basename "$STATE_MARKER") marker; not deleting it"
    rm -rf "$MC_STATE_DIR"
    say "deleted $MC_STATE_DIR (cache $MC_CACHE_DIR kept)"
  else
    say "nothing to delete ($MC_STATE_DIR does not exist)"
  fi
}

cmd_kafka_restart() {
  take_lock
  ensure_state_dir
  kafka_stop
  kafka_launch
  kafka_wait
}

cmd_pg_restart() {
  take_lock
  ensure_state_dir
  pg_stop
  pg_start
}

cmd_pg_stop() {
  take_lock
  pg_stop
}

cmd_pg_start() {
  take_lock
  ensure_state_dir
  pg_start
}

usage() {
  sed -n '3,/^# Output lines/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    help | -h | --help) usage; return 0 ;;
    "") usage >&2; return 2 ;;
  esac
  check_settings
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    reset) cmd_reset ;;
    kafka-restart) cmd_kafka_restart ;;
    pg-restart) cmd_pg_restart ;;
    pg-stop) cmd_pg_stop ;;
    pg-start) cmd_pg_start ;;
    acl) cmd_acl "$@" ;;
    users) cmd_users ;;
    acl-specs) (($# == 1)) || die "acl-specs: name one topic prefix"; acl_specs "$1" ;;
    *) printf 'infra: unknown command: %s\n' "$cmd" >&2; usage >&2; return 2 ;;
  esac
}

main "$@"
