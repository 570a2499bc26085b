#!/usr/bin/env bash
#
# deploy/docker/secrets.sh - generates the broker passwords docker-compose.yml reads as
# secrets: deploy/docker/secrets/<user>.password for admin, the three services, the
# operator and one agency per sample region. Existing files are kept. Run it once
# before `docker compose up`. The directory is private (700); the files inside are 644
# because compose bind-mounts them unchanged and the services run as `nobody`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
DIR="$HERE/secrets"
mkdir -p "$DIR"
chmod 700 "$DIR"
users=(admin treating insuring clearing operator)
for r in $("$HERE/../infra.sh" acl-specs mc | grep -o 'User:agency-[0-9]*' | sort -u); do users+=("${r#User:}"); done
for u in "${users[@]}"; do
  f="$DIR/$u.password"
  if [[ ! -s $f ]]; then
    (umask 022; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$f")
    echo "secrets: wrote $f"
  fi
done
