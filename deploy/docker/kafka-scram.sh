#!/bin/bash
#
# deploy/docker/kafka-scram.sh - the broker of docker-compose.yml, run inside the
# official apache/kafka image: the same templates as deploy/infra.sh with
# MC_KAFKA_AUTH=scram (deploy/infra/server.properties and server-scram.properties),
# listening on the container network, users created at storage format time from the
# password files of deploy/docker/secrets.sh (compose secrets under /run/secrets,
# named kafka_<user>). The admin client properties go to /tmp/admin.properties (mode
# 600) for the health check and the ACL job.
set -euo pipefail
umask 077
INFRA=/opt/medclear/deploy/infra
PROPS=/tmp/server.properties DATA=/var/lib/kafka/data MECH=SCRAM-SHA-512
CLUSTER_ID=bWVkY2xlYXItbG9jYWwwMQ # as deploy/infra.sh

pw() { head -n 1 "/run/secrets/kafka_$1"; }
admin="$(pw admin)"
text="$(<"$INFRA/server.properties")"$'\n\n'"$(<"$INFRA/server-scram.properties")"
for kv in KAFKA_PORT=9092 CONTROLLER_PORT=9093 PARTITIONS=4 "LOG_DIRS=$DATA" \
  CLIENT_LISTENER=SASL_PLAINTEXT CONTROLLER_PROTOCOL=SASL_PLAINTEXT "MECHANISM=$MECH" \
  "MECHANISM_LC=${MECH,,}" "ADMIN_PASSWORD=$admin"; do
  text="${text//@${kv%%=*}@/"${kv#*=}"}"
done
# Loopback in the templates: listen on every interface, advertise the service name.
text="$(sed -e '/^listeners=/s#//127\.0\.0\.1:#//:#g' -e '/^advertised\.listeners=/s#127\.0\.0\.1#kafka#' <<<"$text")"
printf '%s\n' "$text" >"$PROPS"
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=%s\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="%s";\n' \
  "$MECH" "$admin" >/tmp/admin.properties

scram=()
for f in /run/secrets/kafka_*; do
  user="${f#/run/secrets/kafka_}"
  scram+=(--add-scram "$MECH=[name=$user,password=$(pw "$user")]")
done
mkdir -p "$DATA"
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "$CLUSTER_ID" -c "$PROPS" "${scram[@]}" >/dev/null
exec /opt/kafka/bin/kafka-server-start.sh "$PROPS"
