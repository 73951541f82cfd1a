#!/usr/bin/env bash
# A separate two-datacenter Cassandra cluster on loopback, for the datastore's `replicate` strategy
# (N2 joins N1's cluster as a second datacenter). It never touches the shared services of
# scripts/services.sh (n1 127.0.0.2, n2 127.0.0.3): its own addresses, JMX ports and directories.
#
#   dc1  127.0.0.4:9042  jmx 127.0.0.1:7399   (N1's datacenter, the seed)
#   dc2  127.0.0.5:9042  jmx 127.0.0.1:7499   (N2's datacenter: joins without bootstrapping data,
#                                              auto_bootstrap: false, as the add-a-datacenter
#                                              procedure says; `nodetool rebuild -- dc1` streams it)
#
# Usage: scripts/cassandra-dc.sh up|down|kill|status|clean [dc1|dc2]
#        scripts/cassandra-dc.sh nodetool [dc1|dc2] ARGS...
#   up       start the named nodes (default both; dc1 first, it is the seed) and wait until each
#            answers CQL; write .services/cassandra-dc/endpoints.json. Idempotent.
#   down     TERM, then KILL after 30 s          kill   KILL at once (a crash, for fault tests)
#   status   one line per node; exits 1 unless every named node answers CQL
#   clean    down, then delete the data (the next `up` starts an empty cluster)
#   nodetool run Cassandra's nodetool against a node's JMX port (or pass -h HOST -p PORT yourself)
#
# Cassandra's jars come from NW_CASSANDRA_LIB, else this checkout's .services/cassandra/lib, else the
# main worktree's (where scripts/services.sh installed them). Environment: NW_CASSANDRA_DC_HEAP
# (default 1G per node), NW_CASSANDRA_JVM_OPTS (extra JVM flags).
#
# NW_CASSANDRA_DC_LINK=toxiproxy puts the datacenter link through Toxiproxy (for a round-trip time
# between dc1 and dc2; tc netem is not available here). Nodes reach each other at the address a node
# gossips as its own (broadcast_address), so each node gossips a Toxiproxy address that forwards to it:
#   dc1 gossips 127.0.0.6:7000 (proxy nw-cassandra-dc-dc1-storage → 127.0.0.4:7000)
#   dc2 gossips 127.0.0.7:7000 (proxy nw-cassandra-dc-dc2-storage → 127.0.0.5:7000)
# Every internode message and stream then crosses one proxy: dc1's to dc2 goes through dc2's proxy (on
# dc1's own outbound connection), dc2's reply through dc1's proxy (on dc2's). A latency toxic of RTT/2
# on each proxy makes a request and its reply take RTT (loadgen/experiments/rtt-links.ts sets it).
# Clients (CQL on 9042) and JMX stay direct. The proxies are made on the Toxiproxy of
# NW_TOXIPROXY_API, else the one in .services/endpoints.json (this checkout's, else the main
# worktree's). A node's gossiped address is part of its identity on disk: switching the link mode
# needs `clean` first (the script refuses otherwise). Default: NW_CASSANDRA_DC_LINK=direct.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=lib/cassandra-jvm.sh
source "$SCRIPT_DIR/lib/cassandra-jvm.sh"
BASE="$REPO/.services/cassandra-dc"
HEAP=${NW_CASSANDRA_DC_HEAP:-1G}
CLUSTER=northwest-dc
declare -A ADDR=([dc1]=127.0.0.4 [dc2]=127.0.0.5)
declare -A JMX=([dc1]=7399 [dc2]=7499)
LINK=${NW_CASSANDRA_DC_LINK:-direct}
[[ $LINK == direct || $LINK == toxiproxy ]] || { echo "cassandra-dc.sh: NW_CASSANDRA_DC_LINK must be direct or toxiproxy" >&2; exit 1; }
# The address each node gossips (broadcast_address): its own, or its storage proxy's.
declare -A PUBLIC=([dc1]=127.0.0.4 [dc2]=127.0.0.5)
if [[ $LINK == toxiproxy ]]; then PUBLIC=([dc1]=127.0.0.6 [dc2]=127.0.0.7); fi
SEED=${PUBLIC[dc1]}

die() { echo "cassandra-dc.sh: $*" >&2; exit 1; }

cassandra_lib() {
  local main
  if [[ -n ${NW_CASSANDRA_LIB:-} ]]; then echo "$NW_CASSANDRA_LIB"; return; fi
  if [[ -d $REPO/.services/cassandra/lib ]]; then echo "$REPO/.services/cassandra/lib"; return; fi
  main=$(cd "$REPO" && cd "$(git rev-parse --git-common-dir)/.." && pwd)
  [[ -d $main/.services/cassandra/lib ]] || die "no Cassandra jars: set NW_CASSANDRA_LIB or run scripts/services.sh up cassandra in $main"
  echo "$main/.services/cassandra/lib"
}

node_dir() { echo "$BASE/$1"; }
pid_file() { echo "$BASE/$1/cassandra.pid"; }

node_pid() { # the node's pid if its process is alive and is ours (cwd is its directory)
  local pf pid
  pf=$(pid_file "$1")
  [[ -s $pf ]] || return 0
  read -r pid <"$pf" || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(node_dir "$1")" ]] || return 0
  grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 0
  echo "$pid"
}

# CQL native protocol v4 OPTIONS request; a live node answers with a SUPPORTED frame (opcode 6)
cql_ok() {
  local r
  r=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/9042"; printf "\x04\x00\x00\x01\x05\x00\x00\x00\x00" >&3; head -c 5 <&3 | od -An -tx1' \
    "$1" 2>/dev/null) || return 1
  [[ $r == *"84 00 00 01 06"* ]]
}

proxy_name() { echo "nw-cassandra-dc-$1-storage"; }

toxiproxy_api() {
  local f main
  if [[ -n ${NW_TOXIPROXY_API:-} ]]; then echo "$NW_TOXIPROXY_API"; return; fi
  main=$(cd "$REPO" && cd "$(git rev-parse --git-common-dir)/.." && pwd)
  for f in "$REPO/.services/endpoints.json" "$main/.services/endpoints.json"; do
    [[ -s $f ]] && jq -er '.toxiproxy.apiUrl // empty' "$f" && return
  done
  die "no Toxiproxy: set NW_TOXIPROXY_API or start it with scripts/services.sh (main worktree)"
}

# The node's storage proxy, made if missing; an existing one must point where this node listens.
ensure_proxy() {
  local n=$1 api name want got
  api=$(toxiproxy_api)
  name=$(proxy_name "$n")
  want="${ADDR[$n]}:7000"
  got=$(curl -fsS "$api/proxies/$name" 2>/dev/null | jq -r '.upstream') || got=""
  if [[ -z $got ]]; then
    curl -fsS -X POST "$api/proxies" -H 'Content-Type: application/json' \
      -d "{\"name\": \"$name\", \"listen\": \"${PUBLIC[$n]}:7000\", \"upstream\": \"$want\"}" >/dev/null ||
      die "cannot create Toxiproxy proxy $name on $api"
  elif [[ $got != "$want" ]]; then
    die "Toxiproxy proxy $name exists with upstream $got, not $want"
  fi
}

remove_proxies() {
  local api n
  api=$(toxiproxy_api 2>/dev/null) || return 0
  for n in dc1 dc2; do curl -fsS -X DELETE "$api/proxies/$(proxy_name "$n")" >/dev/null 2>&1 || true; done
}

# The link mode the data on disk was made with must be this one.
check_link_mode() {
  local f="$BASE/link-mode" had
  mkdir -p "$BASE"
  if [[ -s $f ]]; then
    had=$(<"$f")
    [[ $had == "$LINK" ]] || die "the cluster's data was made with NW_CASSANDRA_DC_LINK=$had, not $LINK: run clean first"
  elif compgen -G "$BASE/dc[12]/data/*" >/dev/null; then
    [[ $LINK == direct ]] || die "the cluster's data was made with NW_CASSANDRA_DC_LINK=direct, not $LINK: run clean first"
  fi
  echo "$LINK" >"$f"
}

port_taken() { ss -ltnH "( sport = :$2 )" 2>/dev/null | awk '{print $4}' | grep -q "^$1:$2\$"; }

write_config() {
  local n=$1 dir conf addr
  dir=$(node_dir "$n")
  conf="$dir/conf"
  addr=${ADDR[$n]}
  mkdir -p "$conf" "$dir"/{data,commitlog,saved_caches,hints,cdc_raw,logs}
  printf 'dc=%s\nrack=rack1\n' "$n" >"$conf/cassandra-rackdc.properties"
  cat >"$conf/cassandra.yaml" <<EOF
# generated by scripts/cassandra-dc.sh: one node of a two-datacenter test cluster, not for production
cluster_name: '$CLUSTER'
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
storage_compatibility_mode: NONE
# dc2 joins as a new datacenter: no data is streamed when it joins (nodetool rebuild does that)
auto_bootstrap: false

listen_address: $addr
broadcast_address: ${PUBLIC[$n]}
rpc_address: $addr
storage_port: 7000
start_native_transport: true
native_transport_port: 9042
endpoint_snitch: GossipingPropertyFileSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$SEED:7000"

authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
network_authorizer: AllowAllNetworkAuthorizer

data_file_directories:
  - $dir/data
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc_raw

commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 8MiB
commitlog_total_space: 256MiB
disk_failure_policy: stop
commit_failure_policy: stop

# What carries a write to the other datacenter when the direct send fails: hints (on by default in
# Cassandra; flushed to files every second here, so they show in system_views.pending_hints soon).
hinted_handoff_enabled: true
max_hint_window: 3h
hints_flush_period: 1000ms
write_request_timeout: 2000ms

memtable_allocation_type: heap_buffers
memtable_heap_space: 128MiB
memtable_offheap_space: 128MiB
key_cache_size: 16MiB
row_cache_size: 0MiB
counter_cache_size: 8MiB
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 8
concurrent_compactors: 1
compaction_throughput: 64MiB/s

auto_snapshot: false
snapshot_before_compaction: false
incremental_backups: false
trickle_fsync: false
materialized_views_enabled: false
sasi_indexes_enabled: false
user_defined_functions_enabled: false
EOF
  cat >"$conf/logback.xml" <<EOF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>$dir/logs/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>$dir/logs/system.log.%i</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
}

start_node() {
  local n=$1 dir lib jamm pf
  dir=$(node_dir "$n")
  lib=$(cassandra_lib)
  [[ -z $(node_pid "$n") ]] || return 0
  # A node killed a moment ago holds its ports until its last thread has exited: give it a while.
  local i
  for ((i = 0; i < 75; i++)); do
    port_taken "${ADDR[$n]}" 9042 || port_taken 127.0.0.1 "${JMX[$n]}" || break
    sleep 0.2
  done
  port_taken "${ADDR[$n]}" 9042 && die "${ADDR[$n]}:9042 is taken by another process"
  port_taken 127.0.0.1 "${JMX[$n]}" && die "JMX port ${JMX[$n]} is taken by another process"
  if [[ $LINK == toxiproxy ]]; then ensure_proxy "$n"; fi
  write_config "$n"
  jamm=$(compgen -G "$lib/jamm-*.jar" | head -n 1) || true
  # The shared JVM flags (lib/cassandra-jvm.sh) and the test-cluster shortcuts of services.sh (fast start,
  # no fsync), plus the snitch's properties file.
  cassandra_jvm_flags "$HEAP"
  local jvm=(
    "${CASSANDRA_JVM_FLAGS[@]}"
    -Dcassandra.config="file://$dir/conf/cassandra.yaml"
    -Dcassandra-rackdc.properties="file://$dir/conf/cassandra-rackdc.properties"
    -Dlogback.configurationFile="file://$dir/conf/logback.xml"
    -Dcassandra.logdir="$dir/logs"
    -Dcassandra.storagedir="$dir"
    -Dcassandra.jmx.local.port="${JMX[$n]}"
    # A rebuild run again (after the node or the control plane was killed mid-stream) resumes: it
    # skips the ranges already streamed. Unset, Cassandra 5 refuses to rebuild over earlier progress.
    -Dcassandra.reset_bootstrap_progress=false
    -XX:HeapDumpPath="$dir/logs"
  )
  [[ -n $jamm ]] && jvm+=(-javaagent:"$jamm")
  # shellcheck disable=SC2206
  [[ -n ${NW_CASSANDRA_JVM_OPTS:-} ]] && jvm+=(${NW_CASSANDRA_JVM_OPTS})
  pf=$(pid_file "$n")
  rm -f "$pf"
  (
    cd "$dir"
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pf" java "${jvm[@]}" -cp "$lib/*" org.apache.cassandra.service.CassandraDaemon
  ) </dev/null >>"$dir/logs/cassandra.out" 2>&1 &
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $pf ]] && break; sleep 0.02; done
}

wait_ready() {
  local n=$1 deadline=$((SECONDS + 240))
  until cql_ok "${ADDR[$n]}"; do
    [[ -n $(node_pid "$n") ]] || { tail -n 30 "$(node_dir "$n")/logs/system.log" >&2 || true; die "$n exited while starting"; }
    ((SECONDS < deadline)) || die "$n not answering CQL after 240 s; see $(node_dir "$n")/logs/system.log"
    sleep 1
  done
}

stop_node() { # node signal grace_s
  local n=$1 sig=$2 grace=$3 pid deadline
  pid=$(node_pid "$n")
  [[ -n $pid ]] || return 0
  kill -CONT "$pid" 2>/dev/null || true # a paused node (SIGSTOP in a fault test) cannot exit
  kill "-$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while [[ -n $(node_pid "$n") ]]; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
}

write_endpoints() {
  mkdir -p "$BASE"
  local n parts=()
  for n in dc1 dc2; do
    parts+=("\"$n\": {\"contactPoint\": \"${ADDR[$n]}\", \"port\": 9042, \"localDataCenter\": \"$n\", "\
"\"jmxPort\": ${JMX[$n]}, \"pidFile\": \"$(pid_file "$n")\", \"gossipAddress\": \"${PUBLIC[$n]}\"}")
  done
  local IFS=,
  local link='{"mode": "direct"}'
  if [[ $LINK == toxiproxy ]]; then
    link="{\"mode\": \"toxiproxy\", \"apiUrl\": \"$(toxiproxy_api)\", \"proxies\": [\"$(proxy_name dc1)\", \"$(proxy_name dc2)\"]}"
  fi
  printf '{"clusterName": "%s", "cassandraLib": "%s", "link": %s, %s}\n' "$CLUSTER" "$(cassandra_lib)" "$link" "${parts[*]}" \
    >"$BASE/endpoints.json"
}

nodes_of() { if (($#)); then echo "$@"; else echo dc1 dc2; fi; }

cmd=${1:-}
shift || true
case $cmd in
  up)
    check_link_mode
    for n in $(nodes_of "$@"); do start_node "$n"; wait_ready "$n"; done
    write_endpoints
    ;;
  down) for n in $(nodes_of "$@"); do stop_node "$n" TERM 30; done ;;
  kill) for n in $(nodes_of "$@"); do stop_node "$n" KILL 5; done ;;
  clean)
    for n in dc1 dc2; do stop_node "$n" TERM 30; done
    remove_proxies
    rm -rf "$BASE"
    ;;
  status)
    rc=0
    for n in $(nodes_of "$@"); do
      pid=$(node_pid "$n")
      if [[ -n $pid ]] && cql_ok "${ADDR[$n]}"; then echo "$n ${ADDR[$n]} pid $pid ready"
      elif [[ -n $pid ]]; then echo "$n ${ADDR[$n]} pid $pid starting"; rc=1
      else echo "$n ${ADDR[$n]} stopped"; rc=1; fi
    done
    exit $rc
    ;;
  nodetool)
    # `nodetool dc2 ARGS` targets that node; without a node name the caller passes -h/-p itself
    target=()
    if [[ -n ${1:-} && -n ${ADDR[$1]:-} ]]; then target=(-h 127.0.0.1 -p "${JMX[$1]}"); shift; fi
    mkdir -p "$BASE"
    quiet="$BASE/nodetool-logback.xml"
    [[ -f $quiet ]] || printf '%s\n' '<configuration><appender name="E" class="ch.qos.logback.core.ConsoleAppender">' \
      '<target>System.err</target><encoder><pattern>%-5level %logger{0} - %msg%n</pattern></encoder></appender>' \
      '<root level="WARN"><appender-ref ref="E"/></root></configuration>' >"$quiet"
    exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlogback.configurationFile="file://$quiet" \
      --add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
      --add-opens java.base/sun.nio.ch=ALL-UNNAMED -cp "$(cassandra_lib)/*" \
      org.apache.cassandra.tools.NodeTool "${target[@]}" "$@"
    ;;
  *) die "usage: up|down|kill|status|clean [dc1|dc2]  |  nodetool dc1|dc2 ARGS..." ;;
esac
