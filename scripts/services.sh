#!/usr/bin/env bash
# Local backing services for Northwest's integration tests, all on loopback:
#
#   zookeeper  3-server ensemble    127.0.0.1:21811,21812,21813 (quorum 2288x, election 2388x)
#   redis      two instances        n1 127.0.0.1:16379, n2 127.0.0.1:16380 (no persistence)
#   route53    moto_server          http://127.0.0.1:15053
#   cassandra  two 1-node clusters  n1 127.0.0.2:9042 (jmx 7199), n2 127.0.0.3:9042 (jmx 7299)
#   toxiproxy  fault proxy (API)    http://127.0.0.1:8474 (built with `go install`; the chaos campaign's partitions)
#
# Usage: scripts/services.sh up|down|status|clean [zookeeper] [redis] [route53] [cassandra] [toxiproxy]
#   up      install what is missing (idempotent), start what is not running, wait until ready,
#           write .services/endpoints.json (entries of services not named are kept as they are).
#           A second `up` is a fast no-op.
#   down    stop what `up` started (pid files; TERM, then KILL after a grace period)
#   status  one line per process; exits 1 unless every selected service is ready
#   clean   down, then delete the services' data (keeps the installs: venv, Cassandra jars)
#
# All state lives under <repo>/.services (gitignored): configs, data, logs/, run/*.pid.
# Environment: NW_REDIS_N2_MODE (standalone, the default; replica: N2's Redis starts as a replica of N1's,
# as the cache's replicate strategy leaves it after prepare; applies when N2 starts: `down redis` first
# to change a running one), NW_CASSANDRA_HEAP (default 1G), NW_CASSANDRA_JVM_OPTS (extra JVM flags),
# NW_SERVICES_QUIET=1 (less output), NW_GO (the go binary for the Toxiproxy build; default: go on
# PATH, else /usr/local/go/bin/go).

# shellcheck disable=SC2016  # the single-quoted `bash -c` programs expand their own arguments
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=lib/cassandra-jvm.sh
source "$SCRIPT_DIR/lib/cassandra-jvm.sh"
SVC="$REPO/.services"
LOGS="$SVC/logs"
RUN="$SVC/run"
ENDPOINTS="$SVC/endpoints.json"

ALL_SERVICES=(zookeeper redis route53 cassandra toxiproxy)

CASSANDRA_VERSION=5.0.9
CASSANDRA_LIB="$SVC/cassandra/lib"
CASSANDRA_HEAP=${NW_CASSANDRA_HEAP:-1G}
# moto's server mode needs only flask + flask-cors on top of moto itself; the 'moto[server]'
# extra would also pull every other AWS service's dependencies (cfn-lint, docker, ...), which
# more than doubles the install time on a fresh machine for nothing Route 53 uses.
MOTO_PKGS=('moto==5.2.5' 'flask!=2.2.0,!=2.2.1' 'flask-cors')
VENV="$SVC/venv"
ZK_JARS=(/usr/share/java/zookeeper.jar /usr/share/java/slf4j-log4j12.jar /usr/share/java/log4j-1.2.jar)

ROUTE53_PORT=15053
TOXIPROXY_VERSION=2.12.0
TOXIPROXY_PORT=8474
TOXIPROXY_BIN="$SVC/toxiproxy/bin/toxiproxy-server"
declare -A REDIS_PORT=([n1]=16379 [n2]=16380)
REDIS_N2_MODE=${NW_REDIS_N2_MODE:-standalone}
case $REDIS_N2_MODE in
  standalone | replica) ;;
  *) echo "services.sh: NW_REDIS_N2_MODE must be standalone or replica, not '$REDIS_N2_MODE'" >&2; exit 1 ;;
esac
declare -A CASS_ADDR=([n1]=127.0.0.2 [n2]=127.0.0.3)
declare -A CASS_JMX=([n1]=7199 [n2]=7299)

# ---------------------------------------------------------------------------------------------
# small helpers

die() { echo "services.sh: $*" >&2; exit 1; }
say() { [[ ${NW_SERVICES_QUIET:-} == 1 ]] || echo "$@"; }

# milliseconds since the epoch, into the variable named by $1 (no subshell)
now_ms() { local _now=$EPOCHREALTIME; printf -v "$1" '%d' $(( ${_now%.*} * 1000 + 10#${_now#*.} / 1000 )); }
fmt_ms() { printf '%d.%ds' $(($1 / 1000)) $((($1 % 1000) / 100)); }

SUDO=()
if [[ $EUID -ne 0 ]]; then SUDO=(sudo -n); fi

service_units() {
  case $1 in
    zookeeper) echo "zk1 zk2 zk3" ;;
    redis) echo "redis-n1 redis-n2" ;;
    route53) echo "route53" ;;
    toxiproxy) echo "toxiproxy" ;;
    cassandra) echo "cassandra-n1 cassandra-n2" ;;
    *) die "unknown service '$1' (known: ${ALL_SERVICES[*]})" ;;
  esac
}

unit_service() {
  case $1 in
    zk*) echo zookeeper ;;
    redis-*) echo redis ;;
    route53) echo route53 ;;
    toxiproxy) echo toxiproxy ;;
    cassandra-*) echo cassandra ;;
  esac
}

unit_dir() {
  case $1 in
    zk*) echo "$SVC/zookeeper/$1" ;;
    redis-*) echo "$SVC/redis/${1#redis-}" ;;
    route53) echo "$SVC/route53" ;;
    toxiproxy) echo "$SVC/toxiproxy" ;;
    cassandra-*) echo "$SVC/$1" ;;
  esac
}

unit_pidfile() { echo "$RUN/$1.pid"; }

# files whose tails are shown when a unit fails to start
unit_logs() {
  case $1 in
    zk*) echo "$LOGS/$1.out $LOGS/$1.log" ;;
    redis-*) echo "$LOGS/$1.out $LOGS/$1.log" ;;
    route53) echo "$LOGS/route53.log" ;;
    toxiproxy) echo "$LOGS/toxiproxy.log" ;;
    cassandra-*) echo "$LOGS/$1.out $LOGS/$1/system.log" ;;
  esac
}

unit_timeout_s() {
  case $1 in
    cassandra-*) echo 180 ;;
    route53) echo 60 ;;
    zk*) echo 60 ;;
    *) echo 30 ;;
  esac
}

unit_grace_s() {
  case $1 in
    cassandra-*) echo 30 ;;
    *) echo 10 ;;
  esac
}

unit_endpoint() {
  case $1 in
    zk*) echo "127.0.0.1:$((21810 + ${1#zk}))" ;;
    redis-*) echo "127.0.0.1:${REDIS_PORT[${1#redis-}]}" ;;
    route53) echo "http://127.0.0.1:$ROUTE53_PORT" ;;
    toxiproxy) echo "http://127.0.0.1:$TOXIPROXY_PORT" ;;
    cassandra-*) echo "${CASS_ADDR[${1#cassandra-}]}:9042" ;;
  esac
}

# --- process identity --------------------------------------------------------------------------
# Every service process is started with its working directory set to its unit dir, so a pid
# is "ours" when /proc/<pid>/cwd is that dir and the executable is one we start. This guards
# against stale pid files pointing at a reused pid, and lets `down` find a process whose pid
# file was lost.

# (a comm is the first 15 characters of the executable's name: toxiproxy-server -> toxiproxy-serve)
comm_ok() { case $1 in java | redis-server | python* | moto_server | toxiproxy-serve) return 0 ;; *) return 1 ;; esac; }

pid_is_unit() { # pid unit
  local pid=$1 dir comm cwd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  dir=$(unit_dir "$2")
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $cwd == "$dir" ]] || return 1
  read -r comm <"/proc/$pid/comm" 2>/dev/null || return 1
  comm_ok "$comm"
}

declare -A SCAN_PID=()
scan_processes() { # fill SCAN_PID[dir]=pid for service-looking processes whose cwd is under $SVC
  SCAN_PID=()
  local line pid cwd comm
  while read -r line; do
    pid=${line%% *}; pid=${pid#/proc/}; pid=${pid%/cwd}
    cwd=${line#* }
    read -r comm <"/proc/$pid/comm" 2>/dev/null || continue
    comm_ok "$comm" && SCAN_PID[$cwd]=$pid
  done < <(find /proc/[0-9]*/cwd -maxdepth 0 -lname "$SVC/*" -printf '%p %l\n' 2>/dev/null || true)
}

# pid of the unit's running process, or nothing
unit_pid() {
  local u=$1 pf pid dir
  pf=$(unit_pidfile "$u")
  if [[ -s $pf ]]; then
    read -r pid <"$pf" || true
    if pid_is_unit "${pid:-}" "$u"; then echo "$pid"; return 0; fi
  fi
  dir=$(unit_dir "$u")
  pid=${SCAN_PID[$dir]:-}
  if [[ -n $pid ]] && pid_is_unit "$pid" "$u"; then
    mkdir -p "$RUN" && echo "$pid" >"$pf"
    echo "$pid"
  fi
}

unit_alive() { [[ -n $(unit_pid "$1") ]]; }

# --- probes ------------------------------------------------------------------------------------

tcp_ok() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

zk_4lw() { # port cmd -> response on stdout
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf %s "$1" >&3; cat <&3' "$1" "$2" 2>/dev/null
}

zk_mode() { # zkN -> leader|follower|standalone|"" ; a server without quorum has no Mode line
  local out
  out=$(zk_4lw "$((21810 + ${1#zk}))" srvr) || true
  [[ $out =~ Mode:\ ([a-z]+) ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

redis_ok() { [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

http_ok() { curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null; }

# CQL native protocol v4 OPTIONS request; a live node answers with a SUPPORTED frame (opcode 6)
cql_ok() {
  local r
  r=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"; printf "\x04\x00\x00\x01\x05\x00\x00\x00\x00" >&3; head -c 5 <&3 | od -An -tx1' \
    "$1" "$2" 2>/dev/null) || return 1
  [[ $r == *"84 00 00 01 06"* ]]
}

# cheap check: does the unit answer on its port (a ZooKeeper server without quorum still counts)
unit_answers() {
  case $1 in
    zk*) tcp_ok 127.0.0.1 "$((21810 + ${1#zk}))" ;;
    *) unit_ready "$1" ;;
  esac
}

# full check: the unit serves requests
unit_ready() {
  case $1 in
    zk*) [[ -n $(zk_mode "$1") ]] ;;
    redis-*) redis_ok "${REDIS_PORT[${1#redis-}]}" ;;
    route53) http_ok "http://127.0.0.1:$ROUTE53_PORT/moto-api/" ;;
    toxiproxy) http_ok "http://127.0.0.1:$TOXIPROXY_PORT/version" ;;
    cassandra-*) cql_ok "${CASS_ADDR[${1#cassandra-}]}" 9042 ;;
  esac
}

service_ready() {
  local u
  for u in $(service_units "$1"); do
    unit_alive "$u" && unit_ready "$u" || return 1
  done
}

# ---------------------------------------------------------------------------------------------
# installs (each idempotent; output goes to .services/logs/install-*.log)

zookeeper_installed() { local j; for j in "${ZK_JARS[@]}"; do [[ -f $j ]] || return 1; done; }
redis_installed() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }
route53_installed() {
  [[ -x $VENV/bin/moto_server && -f $VENV/.northwest-installed ]] &&
    [[ $(<"$VENV/.northwest-installed") == "${MOTO_PKGS[*]}" ]] &&
    "$VENV/bin/python" -c 'import moto.server' >/dev/null 2>&1
}
cassandra_installed() {
  [[ -f $CASSANDRA_LIB/.northwest-installed && $(<"$CASSANDRA_LIB/.northwest-installed") == "$CASSANDRA_VERSION" ]]
}
toxiproxy_installed() {
  local stamp="$SVC/toxiproxy/bin/.northwest-installed"
  [[ -x $TOXIPROXY_BIN && -f $stamp && $(<"$stamp") == "$TOXIPROXY_VERSION" ]]
}
service_installed() { "${1}_installed"; }

install_apt() { # packages...
  local log="$LOGS/install-apt.log" rc=0 made_policy=0
  export DEBIAN_FRONTEND=noninteractive
  # never let the package's own init script start a system-wide redis on 6379
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  {
    echo "== $(date -Is) apt-get install $*"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@" || {
      echo "== install failed; apt-get update and retry"
      "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@"
    }
  } >>"$log" 2>&1 || rc=$?
  if ((made_policy)); then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || { echo "apt-get install $* failed; see $log" >&2; tail -n 30 "$log" >&2; }
  return $rc
}

install_route53() {
  local log="$LOGS/install-route53.log"
  {
    echo "== $(date -Is) venv + pip install ${MOTO_PKGS[*]}"
    if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "${MOTO_PKGS[@]}"
    echo "${MOTO_PKGS[*]}" >"$VENV/.northwest-installed"
  } >>"$log" 2>&1 || { echo "pip install ${MOTO_PKGS[*]} failed; see $log" >&2; tail -n 30 "$log" >&2; return 1; }
}

install_toxiproxy() {
  local log="$LOGS/install-toxiproxy.log" gobin="$SVC/toxiproxy/bin.tmp" go=${NW_GO:-}
  [[ -n $go ]] || go=$(command -v go || echo /usr/local/go/bin/go)
  [[ -x $go ]] || { echo "toxiproxy: no Go toolchain (set NW_GO or put go on PATH)" >&2; return 1; }
  rm -rf "$gobin"
  mkdir -p "$gobin"
  {
    echo "== $(date -Is) $go install github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION"
    GOBIN="$gobin" "$go" install "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION"
  } >>"$log" 2>&1 || { echo "building Toxiproxy $TOXIPROXY_VERSION failed; see $log" >&2; tail -n 30 "$log" >&2; return 1; }
  # a name of its own, so the process can be told apart from any other program called `server`
  mv "$gobin/server" "$gobin/toxiproxy-server"
  echo "$TOXIPROXY_VERSION" >"$gobin/.northwest-installed"
  rm -rf "$SVC/toxiproxy/bin"
  mv "$gobin" "$SVC/toxiproxy/bin"
}

install_cassandra() {
  local log="$LOGS/install-cassandra.log" dist="$SVC/cassandra-dist" tmp="$SVC/cassandra/lib.tmp"
  mkdir -p "$dist" "$SVC/cassandra"
  cat >"$dist/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/services.sh: fetches Cassandra with its runtime dependencies -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>northwest.local</groupId>
  <artifactId>cassandra-dist</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$CASSANDRA_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$tmp"
  {
    echo "== $(date -Is) mvn dependency:copy-dependencies cassandra-all $CASSANDRA_VERSION"
    mvn -B -q -f "$dist/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp"
  } >>"$log" 2>&1 || { echo "fetching Cassandra $CASSANDRA_VERSION failed; see $log" >&2; tail -n 30 "$log" >&2; return 1; }
  [[ -f $tmp/cassandra-all-$CASSANDRA_VERSION.jar ]] || { echo "cassandra-all jar missing after fetch; see $log" >&2; return 1; }
  echo "$CASSANDRA_VERSION" >"$tmp/.northwest-installed"
  rm -rf "$CASSANDRA_LIB"
  mv "$tmp" "$CASSANDRA_LIB"
}

# ---------------------------------------------------------------------------------------------
# starting processes

declare -A LOG_OFFSET=()

# launch UNIT OUTFILE CMD... : detached (own session), cwd = unit dir, pid written by the process
launch() {
  local u=$1 out=$2 dir pf i
  shift 2
  dir=$(unit_dir "$u")
  pf=$(unit_pidfile "$u")
  mkdir -p "$dir" "$RUN" "$(dirname "$out")"
  rm -f "$pf"
  # remember where this start's log output begins, so a failure shows only this attempt
  local f
  for f in $(unit_logs "$u"); do
    LOG_OFFSET[$f]=$(stat -c %s "$f" 2>/dev/null || echo 0)
  done
  (
    cd "$dir"
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@"
  ) </dev/null >>"$out" 2>&1 9>&- &
  for ((i = 0; i < 100; i++)); do [[ -s $pf ]] && break; sleep 0.02; done
}

start_zk() {
  local u=$1 n=${1#zk} dir conf
  dir=$(unit_dir "$u")
  conf="$dir/conf"
  mkdir -p "$conf" "$dir/data"
  echo "$n" >"$dir/data/myid"
  cat >"$conf/zoo.cfg" <<EOF
# generated by scripts/services.sh
tickTime=500
initLimit=20
syncLimit=10
minSessionTimeout=1000
maxSessionTimeout=60000
dataDir=$dir/data
clientPort=$((21810 + n))
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
server.1=127.0.0.1:22881:23881
server.2=127.0.0.1:22882:23882
server.3=127.0.0.1:22883:23883
EOF
  cat >"$conf/log4j.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.RollingFileAppender
log4j.appender.FILE.File=$LOGS/$u.log
log4j.appender.FILE.MaxFileSize=10MB
log4j.appender.FILE.MaxBackupIndex=2
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
EOF
  local cp="$conf"
  local j
  for j in "${ZK_JARS[@]}"; do cp+=":$j"; done
  # 1 GiB: the metadata-copy bench holds two 100k-node trees (plus watches) in every server.
  launch "$u" "$LOGS/$u.out" java -Xms64m -Xmx1g -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Djava.net.preferIPv4Stack=true \
    -Dlog4j.configuration="file:$conf/log4j.properties" \
    -Dzookeeper.log.dir="$LOGS" -Dzookeeper.admin.enableServer=false -Dzookeeper.jmx.log4j.disable=true \
    -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf/zoo.cfg"
}

start_redis() {
  local u=$1 n=${1#redis-} dir replicaof=''
  dir=$(unit_dir "$u")
  mkdir -p "$dir"
  # N2 as a replica of N1 (NW_REDIS_N2_MODE=replica): in its config file, so a restart follows N1 again
  if [[ $n == n2 && $REDIS_N2_MODE == replica ]]; then replicaof="replicaof 127.0.0.1 ${REDIS_PORT[n1]}"; fi
  cat >"$dir/redis.conf" <<EOF
# generated by scripts/services.sh
bind 127.0.0.1
port ${REDIS_PORT[$n]}
protected-mode yes
daemonize no
dir $dir
logfile $LOGS/$u.log
save ""
appendonly no
databases 16
$replicaof
EOF
  launch "$u" "$LOGS/$u.out" redis-server "$dir/redis.conf"
}

start_route53() {
  launch route53 "$LOGS/route53.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$ROUTE53_PORT"
}

start_toxiproxy() {
  launch toxiproxy "$LOGS/toxiproxy.log" "$TOXIPROXY_BIN" -host 127.0.0.1 -port "$TOXIPROXY_PORT"
}

start_cassandra() {
  local u=$1 n=${1#cassandra-} dir conf addr jmx
  dir=$(unit_dir "$u")
  conf="$dir/conf"
  addr=${CASS_ADDR[$n]}
  jmx=${CASS_JMX[$n]}
  mkdir -p "$conf" "$dir"/{data,commitlog,saved_caches,hints,cdc_raw} "$LOGS/$u"
  cat >"$conf/cassandra.yaml" <<EOF
# generated by scripts/services.sh: a single-node cluster for tests, not for production
cluster_name: 'northwest-$n'
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
storage_compatibility_mode: NONE
auto_bootstrap: false

listen_address: $addr
rpc_address: $addr
storage_port: 7000
start_native_transport: true
native_transport_port: 9042
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$addr:7000"

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
hinted_handoff_enabled: false
trickle_fsync: false
materialized_views_enabled: false
sasi_indexes_enabled: false
user_defined_functions_enabled: false
EOF
  cat >"$conf/logback.xml" <<EOF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>$LOGS/$u/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>$LOGS/$u/system.log.%i</fileNamePattern>
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
  local jamm
  jamm=$(compgen -G "$CASSANDRA_LIB/jamm-*.jar" | head -n 1) || true
  cassandra_jvm_flags "$CASSANDRA_HEAP"
  local jvm=(
    "${CASSANDRA_JVM_FLAGS[@]}"
    # Cassandra itself
    -Dcassandra.config="file://$conf/cassandra.yaml"
    -Dlogback.configurationFile="file://$conf/logback.xml"
    -Dcassandra.logdir="$LOGS/$u"
    -Dcassandra.storagedir="$dir"
    -Dcassandra.jmx.local.port="$jmx"
    -Dcassandra.auto_bootstrap=false
    -XX:HeapDumpPath="$LOGS/$u"
  )
  [[ -n $jamm ]] && jvm+=(-javaagent:"$jamm")
  # extra JVM flags, e.g. NW_CASSANDRA_JVM_OPTS='-XX:TieredStopAtLevel=1'
  # shellcheck disable=SC2206
  [[ -n ${NW_CASSANDRA_JVM_OPTS:-} ]] && jvm+=(${NW_CASSANDRA_JVM_OPTS})
  # (the config files are passed as file URLs, so conf/ need not be on the classpath)
  launch "$u" "$LOGS/$u.out" java "${jvm[@]}" -cp "$CASSANDRA_LIB/*" org.apache.cassandra.service.CassandraDaemon
}

start_unit() {
  case $1 in
    zk*) start_zk "$1" ;;
    redis-*) start_redis "$1" ;;
    route53) start_route53 ;;
    toxiproxy) start_toxiproxy ;;
    cassandra-*) start_cassandra "$1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# stopping processes

# a process that has exited but is not reaped yet (a zombie) counts as gone
pid_running() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

stop_units() { # units... : TERM all, wait (per-unit grace), KILL leftovers
  local u pid now
  declare -A pids=() deadlines=() killed=()
  now_ms now
  for u in "$@"; do
    pid=$(unit_pid "$u")
    if [[ -n $pid ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids[$u]=$pid
      deadlines[$u]=$((now + $(unit_grace_s "$u") * 1000))
    fi
  done
  while ((${#pids[@]})); do
    now_ms now
    for u in "${!pids[@]}"; do
      pid=${pids[$u]}
      if ! pid_running "$pid"; then
        unset "pids[$u]"
      elif ((now > ${deadlines[$u]})); then
        if [[ -n ${killed[$u]:-} ]]; then
          echo "services.sh: $u (pid $pid) is still there 5s after KILL; giving up on it" >&2
          unset "pids[$u]"
          continue
        fi
        say "  $u (pid $pid) did not exit within $(unit_grace_s "$u")s of TERM; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        killed[$u]=1
        deadlines[$u]=$((now + 5000))
      fi
    done
    ((${#pids[@]})) && sleep 0.1
  done
  for u in "$@"; do rm -f "$(unit_pidfile "$u")"; done
}

# ---------------------------------------------------------------------------------------------
# endpoints.json (fixed values): services that are ready, and the entries of services this
# command did not touch as they were (another checkout may run those; tests there copied its file)

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# the entry of service $1 in the current endpoints.json as one line of JSON, or nothing
kept_entry() {
  [[ -s $ENDPOINTS ]] || return 0
  if ! command -v jq >/dev/null; then
    echo "services.sh: jq is missing; the entry '$1' of $ENDPOINTS is not kept" >&2
    return 0
  fi
  jq -c --arg k "$1" '.[$k] // empty' "$ENDPOINTS" 2>/dev/null || true
}

write_endpoints() { # services this command touched...
  local svc first=1 out n i kept touched=" $* "
  local -a parts=()
  for svc in "${ALL_SERVICES[@]}"; do
    if ! service_ready "$svc"; then
      if [[ $touched != *" $svc "* ]]; then
        kept=$(kept_entry "$svc")
        [[ -n $kept ]] && parts+=("\"$svc\": $kept")
      fi
      continue
    fi
    case $svc in
      zookeeper)
        local servers=()
        for i in 1 2 3; do
          s="{\"id\": $i, \"host\": \"127.0.0.1\", \"port\": $((21810 + i)), \"pidFile\": $(json_str "$(unit_pidfile "zk$i")"), "
          s+="\"dataDir\": $(json_str "$(unit_dir "zk$i")/data"), \"logFile\": $(json_str "$LOGS/zk$i.log")}"
          servers+=("$s")
        done
        local joined="${servers[0]}"
        for i in 1 2; do joined+=$',\n    '"${servers[$i]}"; done
        s="\"zookeeper\": {\"connectString\": \"127.0.0.1:21811,127.0.0.1:21812,127.0.0.1:21813\", "
        s+="\"servers\": ["$'\n    '"$joined"$'\n  '"]}"
        parts+=("$s")
        ;;
      redis)
        local r=()
        for n in n1 n2; do
          r+=("\"$n\": {\"host\": \"127.0.0.1\", \"port\": ${REDIS_PORT[$n]}, \"pidFile\": $(json_str "$(unit_pidfile "redis-$n")")}")
        done
        parts+=("\"redis\": {${r[0]}, ${r[1]}}")
        ;;
      route53)
        s="\"route53\": {\"endpoint\": \"http://127.0.0.1:$ROUTE53_PORT\", \"region\": \"us-east-1\", "
        s+="\"pidFile\": $(json_str "$(unit_pidfile route53)")}"
        parts+=("$s")
        ;;
      cassandra)
        local c=()
        for n in n1 n2; do
          s="\"$n\": {\"contactPoint\": \"${CASS_ADDR[$n]}\", \"port\": 9042, \"localDataCenter\": \"datacenter1\", "
          s+="\"clusterName\": \"northwest-$n\", \"jmxPort\": ${CASS_JMX[$n]}, \"pidFile\": $(json_str "$(unit_pidfile "cassandra-$n")")}"
          c+=("$s")
        done
        parts+=("\"cassandra\": {${c[0]}, ${c[1]}}")
        ;;
      toxiproxy)
        local api="http://127.0.0.1:$TOXIPROXY_PORT" pf
        pf=$(json_str "$(unit_pidfile toxiproxy)")
        parts+=("\"toxiproxy\": {\"apiUrl\": \"$api\", \"version\": \"$TOXIPROXY_VERSION\", \"pidFile\": $pf}")
        ;;
    esac
  done
  if ((${#parts[@]} == 0)); then
    rm -f "$ENDPOINTS"
    return 0
  fi
  out="{"
  for i in "${!parts[@]}"; do
    ((first)) || out+=","
    out+=$'\n  '"${parts[$i]}"
    first=0
  done
  out+=$'\n}\n'
  printf '%s' "$out" >"$ENDPOINTS.tmp"
  mv -f "$ENDPOINTS.tmp" "$ENDPOINTS"
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_up() {
  local t0 t svc u rc
  local -a services=("$@")
  now_ms t0
  mkdir -p "$LOGS" "$RUN"
  scan_processes

  # which units need (re)starting
  declare -A need=() started_at=() svc_started=()
  for svc in "${services[@]}"; do
    for u in $(service_units "$svc"); do
      if unit_alive "$u" && unit_answers "$u"; then
        continue
      fi
      if unit_alive "$u"; then
        say "  $u is running but does not answer; restarting it"
        stop_units "$u"
      fi
      need[$u]=1
      svc_started[$svc]=1
    done
  done

  # base tools (present on the standard image; installed only on a bare machine)
  if ((${#svc_started[@]})); then
    local base=()
    command -v java >/dev/null || base+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || [[ -z ${svc_started[cassandra]:-} ]] || cassandra_installed || base+=(maven)
    command -v curl >/dev/null || base+=(curl)
    command -v python3 >/dev/null || base+=(python3 python3-venv)
    command -v jq >/dev/null || base+=(jq)
    if ((${#base[@]})); then
      say "installing base tools: ${base[*]}"
      install_apt "${base[@]}" || die "cannot install ${base[*]}"
    fi
  fi

  # installs run in parallel; each service starts as soon as its install is done
  declare -A job_of=() job_t0=()
  local apt_pkgs=() apt_services=()
  for svc in "${!svc_started[@]}"; do
    service_installed "$svc" && continue
    case $svc in
      zookeeper) apt_pkgs+=(zookeeper); apt_services+=(zookeeper) ;;
      redis) apt_pkgs+=(redis-server redis-tools); apt_services+=(redis) ;;
      route53) install_route53 & job_of[$!]=route53; now_ms t; job_t0[$!]=$t ;;
      toxiproxy) install_toxiproxy & job_of[$!]=toxiproxy; now_ms t; job_t0[$!]=$t ;;
      cassandra) install_cassandra & job_of[$!]=cassandra; now_ms t; job_t0[$!]=$t ;;
    esac
  done
  if ((${#apt_pkgs[@]})); then
    install_apt "${apt_pkgs[@]}" & job_of[$!]="${apt_services[*]}"; now_ms t; job_t0[$!]=$t
  fi

  declare -A deadline=() ready_at=() unit_failed=()
  local pending=() failed=()

  # start the units of the given services that need it; they join the readiness wait
  start_service_units() {
    local s u2
    for s in "$@"; do
      [[ -n ${svc_started[$s]:-} ]] || continue
      for u2 in $(service_units "$s"); do
        [[ -n ${need[$u2]:-} ]] || continue
        start_unit "$u2"
        now_ms t
        started_at[$u2]=$t
        deadline[$u2]=$((t + $(unit_timeout_s "$u2") * 1000))
        pending+=("$u2")
      done
    done
  }

  # units already running are checked too (a ZooKeeper server may still be without quorum)
  for svc in "${services[@]}"; do
    for u in $(service_units "$svc"); do
      [[ -n ${need[$u]:-} ]] && continue
      pending+=("$u")
      deadline[$u]=$((t0 + $(unit_timeout_s "$u") * 1000))
    done
  done

  # slowest first: Cassandra, unless it is still being installed
  local ready_now=()
  for svc in cassandra zookeeper redis route53 toxiproxy; do
    [[ -n ${svc_started[$svc]:-} ]] || continue
    local busy=0 j
    for j in "${!job_of[@]}"; do [[ " ${job_of[$j]} " == *" $svc "* ]] && busy=1; done
    ((busy)) || ready_now+=("$svc")
  done
  ((${#ready_now[@]})) && start_service_units "${ready_now[@]}"

  # one loop: finished installs start their services; started units are polled until ready
  local fin what
  while ((${#job_of[@]} + ${#pending[@]})); do
    for fin in "${!job_of[@]}"; do
      pid_running "$fin" && continue
      if wait "$fin"; then rc=0; else rc=$?; fi
      now_ms t
      what=${job_of[$fin]}
      unset "job_of[$fin]"
      if ((rc == 0)); then
        say "$(printf '%-10s %-8s %-44s %s' install 'done' "$what" "$(fmt_ms $((t - job_t0[$fin])))")"
        # shellcheck disable=SC2086
        start_service_units $what
      else
        say "$(printf '%-10s %-8s %-44s %s' install FAILED "$what" "$(fmt_ms $((t - job_t0[$fin])))")"
        for svc in $what; do failed+=("$svc"); done
      fi
    done
    local next=()
    for u in "${pending[@]}"; do
      now_ms t
      if unit_ready "$u"; then
        ready_at[$u]=$t
      elif ! unit_alive "$u"; then
        unit_failed[$u]="its process exited"
      elif ((t > ${deadline[$u]})); then
        unit_failed[$u]="not ready within $(unit_timeout_s "$u")s"
      else
        next+=("$u")
      fi
    done
    pending=("${next[@]}")
    ((${#job_of[@]} + ${#pending[@]})) && sleep 0.25
  done

  # report
  local line detail state svc_t end
  for svc in "${services[@]}"; do
    if [[ " ${failed[*]:-} " == *" $svc "* ]]; then
      printf '%-10s %-8s %s\n' "$svc" FAILED "install failed (see $LOGS/install-*.log)"
      continue
    fi
    state=running
    [[ -n ${svc_started[$svc]:-} ]] && state=started
    svc_t=0
    detail=""
    local bad=0
    for u in $(service_units "$svc"); do
      if [[ -n ${unit_failed[$u]:-} ]]; then
        bad=1
        continue
      fi
      if [[ -n ${started_at[$u]:-} ]]; then
        end=$((ready_at[$u] - started_at[$u]))
        ((end > svc_t)) && svc_t=$end
      fi
    done
    case $svc in
      zookeeper)
        local modes=() m i
        for i in 1 2 3; do m=$(zk_mode "zk$i"); modes+=("$((21810 + i))=${m:-down}"); done
        detail="127.0.0.1 ${modes[*]}"
        ;;
      redis)
        detail="n1 127.0.0.1:16379  n2 127.0.0.1:16380"
        if [[ $REDIS_N2_MODE == replica ]]; then detail+=" (replica of n1)"; fi
        ;;
      route53) detail="http://127.0.0.1:$ROUTE53_PORT" ;;
      toxiproxy) detail="http://127.0.0.1:$TOXIPROXY_PORT" ;;
      cassandra) detail="n1 127.0.0.2:9042  n2 127.0.0.3:9042" ;;
    esac
    if ((bad)); then state=FAILED; fi
    printf '%-10s %-8s %-44s %s\n' "$svc" "$state" "$detail" "$(fmt_ms "$svc_t")"
  done

  write_endpoints "${services[@]}"

  if ((${#unit_failed[@]})); then
    for u in "${!unit_failed[@]}"; do
      echo "" >&2
      echo "services.sh: $(unit_service "$u") ($u, $(unit_endpoint "$u")) failed to start: ${unit_failed[$u]}" >&2
      local f off
      for f in $(unit_logs "$u"); do
        [[ -s $f ]] || continue
        off=${LOG_OFFSET[$f]:-0}
        if (($(stat -c %s "$f") <= off)); then
          echo "---- $f: nothing new from this start" >&2
          continue
        fi
        echo "---- last 30 lines of $f (this start)" >&2
        tail -c +$((off + 1)) "$f" | tail -n 30 >&2
      done
    done
  fi
  now_ms t
  if ((${#unit_failed[@]} || ${#failed[@]})); then
    echo "services.sh: up FAILED after $(fmt_ms $((t - t0)))" >&2
    return 1
  fi
  say "all up in $(fmt_ms $((t - t0))); endpoints: ${ENDPOINTS#"$REPO"/}"
}

cmd_down() {
  local svc units=()
  mkdir -p "$RUN"
  scan_processes
  for svc in "$@"; do
    # shellcheck disable=SC2207
    units+=($(service_units "$svc"))
  done
  local t0 t
  now_ms t0
  stop_units "${units[@]}"
  now_ms t
  say "stopped: $* ($(fmt_ms $((t - t0))))"
  [[ -d $SVC ]] && write_endpoints "$@"
  return 0
}

cmd_status() {
  local svc u pid state all_ok=0
  scan_processes
  for svc in "$@"; do
    for u in $(service_units "$svc"); do
      pid=$(unit_pid "$u")
      if [[ -z $pid ]]; then
        state="stopped"
        all_ok=1
      elif unit_ready "$u"; then
        state="ready    pid $pid"
        [[ $u == zk* ]] && state+=" mode=$(zk_mode "$u")"
      else
        state="UNHEALTHY pid $pid (not answering)"
        all_ok=1
      fi
      printf '%-10s %-13s %-24s %s\n' "$svc" "$u" "$(unit_endpoint "$u")" "$state"
    done
  done
  return $all_ok
}

cmd_clean() {
  cmd_down "${ALL_SERVICES[@]}"
  rm -rf "$SVC/zookeeper" "$SVC/redis" "$SVC/route53" "$SVC/cassandra-n1" "$SVC/cassandra-n2" "$RUN" "$ENDPOINTS"
  say "removed service data (kept installs: ${VENV#"$REPO"/}, ${CASSANDRA_LIB#"$REPO"/})"
}

usage() {
  # the header comment of this file
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || { usage; exit 2; }
  shift
  local s requested=" $* " services=()
  for s in "$@"; do service_units "$s" >/dev/null; done
  # selected services, deduplicated, in the canonical order
  for s in "${ALL_SERVICES[@]}"; do
    [[ $# -eq 0 || $requested == *" $s "* ]] && services+=("$s")
  done

  case $cmd in
    up | down | clean)
      mkdir -p "$SVC"
      exec 9>"$SVC/.lock"
      flock -w 600 9 || die "another services.sh is running (lock $SVC/.lock)"
      ;;
  esac
  case $cmd in
    up) cmd_up "${services[@]}" ;;
    down) cmd_down "${services[@]}" ;;
    status) cmd_status "${services[@]}" ;;
    clean) cmd_clean ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
