#!/usr/bin/env bash
# compose-test: Shoal's promises checked on real containers (run by
# `make compose-test`). It builds the FROM-scratch image, makes the NATS
# credentials and TLS certificates (make compose-secrets, kept in
# deploy/secrets), brings up compose.yaml (3 brokers in one JetStream
# cluster, 4 searchers, a coordinator; credentials and TLS everywhere) under
# a project name of its own, loads the sample corpus with two copies of
# every shard, then, watching only through the HTTPS API port the
# coordinator publishes on 127.0.0.1:
#
#   1. kills (SIGKILL) a searcher while queries run non-stop: no query may
#      fail or come back partial; its copies are rebuilt elsewhere;
#   2. disconnects another searcher from the network: queries keep answering
#      within their timeout;
#   3. kills the broker the coordinator is connected to: writes and searches
#      keep working;
#   4. restarts everything and checks the document count is exact, the two
#      copies of every shard agree and the JetStream replicas are current.
#
# Everything is torn down (down -v) on exit, pass or fail. The only traffic
# goes to 127.0.0.1 and to the compose network's own containers.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
MAKE=${MAKE:-make}
project="shoal-compose-test-$$"
tmp=$(mktemp -d)
started=$SECONDS

step() { printf '\n[%s +%ss] %s\n' "$(date +%T)" "$((SECONDS - started))" "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

if docker compose version >/dev/null 2>&1; then
	compose() { docker compose -p "$project" -f compose.yaml "$@"; }
elif docker-compose version >/dev/null 2>&1; then
	compose() { docker-compose -p "$project" -f compose.yaml "$@"; }
else
	echo "compose-test: neither 'docker compose' nor 'docker-compose' works" >&2
	exit 1
fi

teardown() {
	status=$?
	set +e
	if [ "$status" -ne 0 ]; then
		echo "compose-test: FAILED (status $status); last logs:" >&2
		compose logs --no-color --tail=60 >&2
	fi
	compose down -v --remove-orphans >/dev/null 2>&1
	rm -rf "$tmp"
	echo "compose-test: torn down after $((SECONDS - started))s"
	exit "$status"
}
trap teardown EXIT

step "build the image and the checker; credentials and certificates"
$MAKE --no-print-directory image compose-secrets
CGO_ENABLED=0 $GO build -o "$tmp/composecheck" ./deploy/composecheck
secrets="$PWD/deploy/secrets"
ca="$secrets/tls/ca.pem"
cc() { "$tmp/composecheck" "$@" -ca "$ca"; }
SHOAL_HTTP_PORT=$(cc freeport)
export SHOAL_HTTP_PORT
url="https://127.0.0.1:$SHOAL_HTTP_PORT"
api=(-url "$url" -index sample)

container() { compose ps -q "$1"; }

step "compose up ($project, API on $url)"
compose up -d
cc ready -url "$url" -nodes 4 -timeout 120s
network=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$(container coordinator)")
# jsinfo speaks NATS, so it runs inside the compose network, from the image,
# with the admin credentials and the CA.
jsinfo() {
	docker run --rm --network "$network" -v "$tmp/composecheck:/composecheck:ro" \
		-v "$secrets/auth/admin.creds:/admin.creds:ro" -v "$ca:/ca.pem:ro" --entrypoint /composecheck shoal:dev \
		jsinfo -nats nats://broker1:4222,nats://broker2:4222,nats://broker3:4222 -index sample \
		-creds /admin.creds -ca /ca.pem "$@"
}

step "load the sample corpus: 8 shards, 2 copies each"
docs=$(cc load "${api[@]}" -shards 8 -replicas 2)
jsinfo -timeout 60s
cc queries "${api[@]}" -for 3s -expect full

pair=$(cc pick "${api[@]}")
read -r victim cutoff <<<"$pair"

step "docker kill $victim while queries run: zero failed, zero partial"
cc queries "${api[@]}" -for 10s -timeout 2s -expect full >"$tmp/q1" 2>&1 &
q=$!
sleep 2
docker kill "$(container "$victim")" >/dev/null
killed=$(now)
wait "$q" || { cat "$tmp/q1"; exit 1; }
cat "$tmp/q1"
cc healed "${api[@]}" -without "$victim" -timeout 90s
echo "copies of $victim rebuilt on other nodes $(since "$killed") after the kill (node-timeout 3s, heal-after 10s)"

step "docker network disconnect $cutoff while queries run: every query answers within its timeout"
cc queries "${api[@]}" -for 12s -timeout 2s -expect answer >"$tmp/q2" 2>&1 &
q=$!
sleep 2
docker network disconnect "$network" "$(container "$cutoff")"
wait "$q" || { cat "$tmp/q2"; exit 1; }
cat "$tmp/q2"

coordinator_broker=$(curl -fsS --cacert "$ca" "$url/v1/cluster" | sed -n 's/.*"nats_server":"nats:\/\/\([a-z0-9]*\):.*/\1/p')
coordinator_broker=${coordinator_broker:-broker1}
step "docker kill $coordinator_broker (the coordinator's broker) while writing and searching"
cc queries "${api[@]}" -for 15s -timeout 2s -expect answer >"$tmp/q3" 2>&1 &
q=$!
sleep 2
docker kill "$(container "$coordinator_broker")" >/dev/null
cc write "${api[@]}" -n 500 -prefix extra
wait "$q" || { cat "$tmp/q3"; exit 1; }
cat "$tmp/q3"

step "restart $victim and $coordinator_broker, reconnect $cutoff"
docker start "$(container "$coordinator_broker")" "$(container "$victim")" >/dev/null
docker network connect --alias "$cutoff" "$network" "$(container "$cutoff")"
cc ready -url "$url" -nodes 4 -timeout 120s
jsinfo -timeout 90s

want=$((docs + 500))
step "every acknowledged document is there exactly once ($want), and both copies of every shard agree"
cc count "${api[@]}" -want "$want" -timeout 180s
cc queries "${api[@]}" -for 3s -expect full

step "compose-test passed in $((SECONDS - started))s"
