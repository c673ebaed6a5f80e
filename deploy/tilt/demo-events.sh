#!/usr/bin/env bash
# Demo traffic for the dev cluster (Tilt's `demo-events` resource). Registers one endpoint per
# behaviour of the demo receiver (deploy/k8s/overlays/dev/receiver.mjs), once, then sends events
# through ingest. Watch them on the Grafana dashboard, in the demo-receiver logs and, after a few
# minutes, in the dead-letter store: curl -H 'authorization: Bearer dev-ops-token' \
#   http://localhost:8083/v1/dead-letters
set -euo pipefail

INGEST_URL="${INGEST_URL:-http://localhost:8080}"
INGEST_TOKEN="${INGEST_TOKEN:-dev-ingest-token}"
# Delivery reaches the receiver inside the cluster, by its Service name.
RECEIVER_URL="${RECEIVER_URL:-http://demo-receiver:9000}"
# FAKE DEVELOPMENT SECRET, the one the demo receiver checks signatures with.
DEMO_SECRET="${DEMO_SECRET:-whsec_aG9va2xpbmUtZGVtby1yZWNlaXZlci1zZWNyZXQ=}"
EVENTS="${EVENTS:-20}"
# Everything goes to the demo tenant; /v1/endpoints and /v1/events would act for "default".
TENANT="${TENANT:-demo}"
T="/v1/tenants/$TENANT"

# api METHOD PATH [BODY [CURL_ARGS...]]
api() {
  local method="$1" path="$2" body="${3:-}"
  shift $(($# < 3 ? $# : 3))
  local args=(-sS -X "$method" "$INGEST_URL$path" -H "authorization: Bearer $INGEST_TOKEN")
  if [ -n "$body" ]; then args+=(-H 'content-type: application/json' -d "$body"); fi
  curl "${args[@]}" "$@"
}

# POST with the status code on the last line, so failures show what ingest said.
post() {
  local path="$1" body="$2" out status
  out="$(api POST "$path" "$body" -w '\n%{http_code}')"
  status="${out##*$'\n'}"
  case "$status" in
    2*) ;;
    *) echo "POST $path answered $status: ${out%$'\n'*}" >&2; exit 1 ;;
  esac
}

# The tenant, once: a 409 means an earlier run made it.
out="$(api POST /v1/tenants "{\"id\":\"$TENANT\",\"name\":\"Demo\"}" -w '\n%{http_code}')"
case "${out##*$'\n'}" in
  201 | 409) ;;
  *) echo "POST /v1/tenants answered ${out##*$'\n'}: ${out%$'\n'*}" >&2; exit 1 ;;
esac

existing="$(api GET "$T/endpoints?limit=200")"
ensure_endpoint() {
  local path="$1" event_types="$2" url="$RECEIVER_URL$1"
  if [[ "$existing" == *"\"url\":\"$url\""* ]]; then
    echo "endpoint $url exists"
    return
  fi
  post "$T/endpoints" \
    "{\"url\":\"$url\",\"eventTypes\":$event_types,\"secret\":\"$DEMO_SECRET\",\"description\":\"demo $path\"}"
  echo "endpoint $url created"
}

ensure_endpoint /webhooks '["order.created","order.paid"]'
ensure_endpoint /flaky '["order.created"]'
ensure_endpoint /fail '["order.paid"]'
ensure_endpoint /gone '["order.refunded"]'
ensure_endpoint /slow '["order.shipped"]'

run="$(date +%s)"
for i in $(seq 1 "$EVENTS"); do
  post "$T/events" "{\"eventType\":\"order.created\",\"payload\":{\"orderId\":\"o_${run}_$i\",\"total\":$((i * 7))}}"
done
post "$T/events/batch" "{\"events\":[
  {\"eventType\":\"order.paid\",\"payload\":{\"orderId\":\"o_${run}_1\"}},
  {\"eventType\":\"order.paid\",\"payload\":{\"orderId\":\"o_${run}_2\"}},
  {\"eventType\":\"order.shipped\",\"payload\":{\"orderId\":\"o_${run}_1\"}},
  {\"eventType\":\"order.refunded\",\"payload\":{\"orderId\":\"o_${run}_3\"}}
]}"
# The same event twice: the second is a duplicate and delivers nothing.
post "$T/events" "{\"id\":\"evt_demo_$run\",\"eventType\":\"order.created\",\"payload\":{\"orderId\":\"o_dup\"}}"
post "$T/events" "{\"id\":\"evt_demo_$run\",\"eventType\":\"order.created\",\"payload\":{\"orderId\":\"o_dup\"}}"

echo "sent $((EVENTS + 6)) events to tenant $TENANT at $INGEST_URL"
