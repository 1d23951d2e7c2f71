#!/bin/sh
# One-shot job of docker-compose.yml (service temporal-init, image temporalio/admin-tools): waits
# for the namespace, then registers the workflow's custom search attributes as Keyword. Safe to
# run again: an attribute that already exists with the same type counts as registered; one that
# exists with another type is an error.
#
#   TEMPORAL_ADDRESS=temporal:7233 TEMPORAL_NAMESPACE=default sh temporal-init.sh
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must be set (host:port of the Temporal frontend)}"
namespace="${TEMPORAL_NAMESPACE:-default}"
attempts="${TEMPORAL_INIT_ATTEMPTS:-60}"

# temporalio/auto-setup creates the namespace shortly after the server starts serving.
attempt=1
until temporal operator namespace describe --address "$TEMPORAL_ADDRESS" \
  --namespace "$namespace" >/dev/null 2>&1; do
  if [ "$attempt" -ge "$attempts" ]; then
    echo "temporal-init: namespace '$namespace' not found at $TEMPORAL_ADDRESS" >&2
    exit 1
  fi
  echo "temporal-init: waiting for namespace '$namespace' ($attempt/$attempts)"
  attempt=$((attempt + 1))
  sleep 2
done

for attribute in CallStatus:Keyword CustomerMobile:Keyword ServiceArea:Keyword DriverId:Keyword \
  TimelineAt:Datetime; do
  name="${attribute%%:*}" type="${attribute##*:}"
  if output=$(temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" \
    --namespace "$namespace" --name "$name" --type "$type" 2>&1); then
    echo "temporal-init: search attribute $name ($type) registered"
  elif echo "$output" | grep -q 'already exists' \
    && ! echo "$output" | grep -q 'different type'; then
    echo "temporal-init: search attribute $name ($type) already registered"
  else
    echo "temporal-init: registering search attribute $name failed: $output" >&2
    exit 1
  fi
done
