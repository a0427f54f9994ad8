#!/bin/sh
# vagus — per-person buckets and least-privilege tokens in InfluxDB 2 (docs/deployment.md).
#
# The influxdb:2 image's setup mode creates only the operator token, the first user, org and bucket
# (DOCKER_INFLUXDB_INIT_*). docker-compose.yml mounts this script into /docker-entrypoint-initdb.d, so it
# runs once, at the first start; it is idempotent, so re-run it after adding people or to rotate tokens:
#
#   docker compose --env-file deploy/local/.env exec influxdb /docker-entrypoint-initdb.d/vagus-provision.sh
#   docker compose --env-file deploy/local/.env exec -e VAGUS_ROTATE=1 influxdb /docker-entrypoint-initdb.d/vagus-provision.sh
#
# For each person id in /vagus/people (one per line, written by `vagus init`):
#   bucket  vagus-<person>         retention $VAGUS_RETENTION (0: keep for ever)
#   DBRP    vagus-<person>/autogen  -> that bucket, so InfluxQL (Grafana) can query it
#   token   <person>-write.token    write-only, that bucket only
#   token   <person>-read.token     read-only, that bucket only (that person's Grafana data source)
# and one token for the bridge, bridge.token: write-only on every person's bucket, no read.
# InfluxDB generates token values itself (the API cannot set one), so they are written by this script
# into /vagus/tokens (mode 0600), which the bridge and Grafana mount read-only.
set -eu
umask 077

PEOPLE_FILE=${VAGUS_PEOPLE_FILE:-/vagus/people}
TOKENS=${VAGUS_TOKENS_DIR:-/vagus/tokens}
ORG=${DOCKER_INFLUXDB_INIT_ORG:?DOCKER_INFLUXDB_INIT_ORG is not set}
RETENTION=${VAGUS_RETENTION:-0}
ROTATE=${VAGUS_ROTATE:-0}
# During setup the entrypoint runs a temporary influxd and sets INFLUX_HOST for init scripts.
HOST=${INFLUX_HOST:-http://localhost:8086}
OPERATOR_TOKEN=$(cat "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE:?DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE is not set}")
export INFLUX_HOST="$HOST" INFLUX_ORG="$ORG" INFLUX_TOKEN="$OPERATOR_TOKEN"

mkdir -p "$TOKENS"

json_field() { # json_field NAME: the first "NAME": "value" in the JSON on stdin
    sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}

bucket_id() {
    influx bucket list --name "$1" --json 2>/dev/null | json_field id
}

# new_token NAME DESCRIPTION PERMISSIONS...: create it unless its file exists (or VAGUS_ROTATE=1),
# then delete the authorization it replaces.
new_token() {
    name=$1 description=$2
    shift 2
    if [ -s "$TOKENS/$name.token" ] && [ "$ROTATE" != 1 ]; then
        return 0
    fi
    old_id=$(cat "$TOKENS/$name.id" 2>/dev/null || true)
    created=$(influx auth create --description "$description" "$@" --json)
    printf '%s\n' "$created" | json_field token | tr -d '\n' >"$TOKENS/$name.token.new"
    printf '%s\n' "$created" | json_field id >"$TOKENS/$name.id"
    mv "$TOKENS/$name.token.new" "$TOKENS/$name.token"
    if [ -n "$old_id" ]; then
        influx auth delete --id "$old_id" >/dev/null 2>&1 || true
    fi
    echo "vagus-provision: token $name ready (${description})"
}

bridge_args=""
people=""
while IFS= read -r person || [ -n "$person" ]; do
    case "$person" in '' | '#'*) continue ;; esac
    people="$people $person"
    bucket="vagus-$person"
    id=$(bucket_id "$bucket")
    if [ -z "$id" ]; then
        influx bucket create --name "$bucket" --retention "$RETENTION" >/dev/null
        id=$(bucket_id "$bucket")
        echo "vagus-provision: bucket $bucket created"
    fi
    if ! influx v1 dbrp list --db "$bucket" --json 2>/dev/null | grep -q "\"bucketID\": *\"$id\""; then
        influx v1 dbrp create --db "$bucket" --rp autogen --bucket-id "$id" --default >/dev/null
    fi
    new_token "$person-write" "vagus:write:$person" --write-bucket "$id"
    new_token "$person-read" "vagus:read:$person" --read-bucket "$id"
    bridge_args="$bridge_args --write-bucket $id"
done <"$PEOPLE_FILE"

[ -n "$bridge_args" ] || { echo "vagus-provision: no people in $PEOPLE_FILE" >&2; exit 1; }
# The bridge's token covers the current people: a new person means a new token.
if [ "$(cat "$TOKENS/bridge.people" 2>/dev/null || true)" != "$people" ]; then
    rm -f "$TOKENS/bridge.token"
fi
# shellcheck disable=SC2086 # one --write-bucket per person
new_token bridge "vagus:bridge" $bridge_args
printf '%s' "$people" >"$TOKENS/bridge.people"
