# shellcheck shell=bash
# The JVM flags both Cassandra launchers share (scripts/services.sh for N1's and N2's clusters,
# scripts/cassandra-dc.sh for the two-datacenter one): heap, G1, netty, the Java 17 module access of
# Cassandra's conf/jvm17-server.options, and the test-cluster shortcuts. Sourced; sets CASSANDRA_JVM_FLAGS.

# cassandra_jvm_flags HEAP
cassandra_jvm_flags() {
  CASSANDRA_JVM_FLAGS=(
    -Xms"$1" -Xmx"$1" -Xss256k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:MaxGCPauseMillis=300
    -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError -XX:StringTableSize=1000003
    -Djava.net.preferIPv4Stack=true
    -Djdk.attach.allowAttachSelf=true
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    # A single test node, in the foreground, started fast
    -Dcassandra-foreground=yes
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.skip_paxos_state_rebuild=true
    # test-cluster shortcuts (as in Cassandra's own dtests): a fixed memtable row-overhead
    # estimate instead of measuring it at every start, no fsync (data still reaches the page
    # cache, so killing a node loses nothing; only an OS crash would), no flush of the schema
    # tables on every DDL statement, non-durable system keyspace writes.
    -Dcassandra.memtable.row_overhead_size=180
    -Dcassandra.skip_sync=true
    -Dcassandra.test.flush_local_schema_changes=false
    -Dcassandra.unsafesystem=true
  )
}
