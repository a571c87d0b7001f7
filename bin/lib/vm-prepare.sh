#!/usr/bin/env bash
# Before the VM part, on the host: the class path the VM's JVMs use as jars (target/vm-classpath),
# and an AOT cache of them (JDK 25's -XX:AOTCacheOutput) from a short training run here. Under
# emulation every JVM the VM suite starts (the launchers and the tests' child JVMs) then finds its
# classes parsed, verified and linked instead of doing it itself: 10 s or so of the 35-40 s a test
# launcher takes there. The cache holds no machine code (-AOTAdapterCaching,
# -AOTStubCaching): the host's CPU has instructions the VM's emulated qemu64 CPU lacks (SIGILL).
# Nothing here is required: without the files the VM suite uses the class directories.
set -uo pipefail
source "$(dirname "$0")/common.sh"
memreg_find_jdk
cd "$MEMREG_ROOT"
out=target/vm-classpath
rm -rf "$out" && mkdir -p "$out" || exit 1
console=$(ls memreg-cli/target/vm-lib/junit-platform-console-standalone-*.jar 2>/dev/null | head -n 1)
[ -n "$console" ] || { echo "vm-prepare: no JUnit console launcher in memreg-cli/target/vm-lib (build first)"; exit 1; }
cp="$PWD/$console"
for module in core cli; do
  for kind in test-classes classes; do
    jar --create --file "$out/memreg-$module-$kind.jar" -C "memreg-$module/target/$kind" . || exit 1
    cp="$cp:$PWD/$out/memreg-$module-$kind.jar"
  done
done
for jar in "$PWD"/memreg-cli/target/lib/*.jar; do
  case $jar in */memreg-core-*) ;; *) cp="$cp:$jar" ;; esac
done
echo "$cp" > "$out/classpath"
started=$SECONDS
# The VM's JVM options (vm-suite.sh), so that the cache fits them.
JAVA_TOOL_OPTIONS="$MEMREG_VM_JVM_OPTIONS -XX:+UnlockDiagnosticVMOptions -XX:-AOTAdapterCaching -XX:-AOTStubCaching" \
  java -XX:AOTCacheOutput="$out/vm.aot" --enable-native-access=ALL-UNNAMED -cp "$cp" \
    -Dmemreg.test.churnOperations=20000 -Dmemreg.test.crossThreadCycles=100 \
    org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=none --exclude-engine=junit-vintage \
    --select-class org.memreg.linux.UserfaultfdTest --select-class org.memreg.linux.UserfaultfdEventsTest \
    --select-class org.memreg.linux.MemoryLockTest --select-class org.memreg.device.MlockDeviceTest \
    --select-class org.memreg.monitor.HookMonitorTest --select-class org.memreg.linux.PagemapTest \
    --select-class org.memreg.numa.TopologyMigrationTest --select-class org.memreg.monitor.MemoryChangeScenariosTest \
    --select-class org.memreg.numa.MigrationCoordinationTest --select-class org.memreg.numa.OtherProcessTest \
    --select-class org.memreg.monitor.ChurnStressTest --select-class org.memreg.monitor.CrossThreadStaleTest \
    --select-class org.memreg.monitor.StrictMonitorTest --select-class org.memreg.cli.NumaCommandsTest \
    --select-class org.memreg.monitor.UnwatchableMemoryTest --select-class org.memreg.monitor.BrokenMonitorTest \
    > "$out/training.log" 2>&1
if [ -s "$out/vm.aot" ]; then
  echo "vm-prepare: the VM's class path as jars, and an AOT cache of $(($(stat -c %s "$out/vm.aot") / 1048576)) MiB from a $((SECONDS - started)) s training run ($out)"
else
  echo "vm-prepare: no AOT cache (the VM's JVMs will load every class themselves); the training run said:"
  tail -n 5 "$out/training.log"
fi
