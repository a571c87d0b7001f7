#!/usr/bin/env bash
# The kernel-facing tests, run inside the VM of bin/vm-test by bin/test (never on the host): the
# classes compiled on the host, run with JUnit's console launcher (no Maven in the VM).
#   1. as root: NUMA on four real nodes (the same classes that run on the host, where their real
#      runs are skipped), and the userfaultfd monitor, the hooks, strict mode's UFFDIO_WRITEPROTECT
#      check, the cross-thread churn (issue 12) and PSI on this kernel; UCM's hooks are installed
#      for every test here too (memreg-core's HooksInstalled);
#   2. as nobody (setpriv), at the same time as 1: userfaultfd in user mode only, mlock within
#      RLIMIT_MEMLOCK (the device's and the cache's probes at the limit), the hooks' cross-thread
#      check (not the monitor's scenario controls: they need physical frames, which pagemap shows
#      only to root);
#   3. with MEMREG_VM_BENCH=1 (passed into the VM like every MEMREG_ variable), `memreg bench
#      --only crossthread --quick`: the cross-thread window on this kernel (a figure,
#      not a test).
# Exits non-zero when a phase fails. Output of each phase also goes to $MEMREG_VM_RESULTS; a phase
# that fails is summed up again at the very end (its failed tests, or for a JVM that died the test
# it was running, its hs_err file's first lines and the kernel's OOM lines), where a log's tail shows.
set -uo pipefail
source "$(dirname "$0")/common.sh"
memreg_find_jdk
cd "$MEMREG_ROOT"
root=$PWD
results=${MEMREG_VM_RESULTS:-/tmp}
console=$(ls memreg-cli/target/vm-lib/junit-platform-console-standalone-*.jar 2>/dev/null | head -n 1)
[ -n "$console" ] || { echo "vm-suite: no JUnit console launcher in memreg-cli/target/vm-lib (build first)"; exit 2; }
# A guest-local scratch directory every user may write (the results share is root's): progress
# trails, nobody's reports, crash files.
scratch=$(mktemp -d /tmp/memreg-vm-suite.XXXXXX) && chmod 1777 "$scratch"
# Every JVM the tests start (children included) takes these options, and writes its crash file
# where we look.
export JAVA_TOOL_OPTIONS="$MEMREG_VM_JVM_OPTIONS -XX:ErrorFile=$scratch/hs_err_pid%p.log"
# The class path: vm-prepare.sh's jars and AOT cache where bin/test made them from the classes as
# they are now (a class compiled since would be run in its old form), else the classes.
prepared=target/vm-classpath
newer=""
[ ! -s "$prepared/classpath" ] || newer=$(find memreg-core/target/classes memreg-core/target/test-classes \
    memreg-cli/target/classes memreg-cli/target/test-classes -newer "$prepared/classpath" -type f -print -quit)
if [ -s "$prepared/classpath" ] && [ -s "$prepared/vm.aot" ] && [ -z "$newer" ]; then
  cp=$(cat "$prepared/classpath")
  JAVA_TOOL_OPTIONS="$JAVA_TOOL_OPTIONS -XX:AOTCache=$root/$prepared/vm.aot"
  echo "vm-suite: classes from the jars and AOT cache of $prepared"
else
  cp="$root/$console:$root/memreg-core/target/test-classes:$root/memreg-core/target/classes"
  cp="$cp:$root/memreg-cli/target/test-classes:$root/memreg-cli/target/classes"
  for jar in "$root"/memreg-cli/target/lib/*.jar; do
    case $jar in */memreg-core-*) ;; *) cp="$cp:$jar" ;; esac
  done
  if [ -n "$newer" ]; then
    echo "vm-suite: classes from the class directories ($newer is newer than the jars of $prepared)"
  else
    echo "vm-suite: classes from the class directories (no $prepared/vm.aot: bin/lib/vm-prepare.sh makes it)"
  fi
fi

echo "vm-suite: Linux $(uname -r), nodes $(cat /sys/devices/system/node/online), vm.unprivileged_userfaultfd=$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null || echo absent), RLIMIT_MEMLOCK $(ulimit -l) KiB"

# junit NAME [setpriv args --] CLASS|CLASS#METHOD|--launcher-option=VALUE... : one console-launcher
# run; summary into $results/NAME.summary
junit() {
  local name=$1; shift
  local prefix=()
  while [ "$1" != "--" ]; do prefix+=("$1"); shift; done; shift
  local selectors=() what=()
  for selected in "$@"; do
    case $selected in
      -*) selectors+=("$selected") ;;
      *'#'*) selectors+=(--select-method "$selected"); what+=("${selected##*.}") ;;
      *) selectors+=(--select-class "$selected"); what+=("${selected##*.}") ;;
    esac
  done
  echo "vm-suite: $name: ${#what[@]} test classes or methods${prefix:+ (${prefix[*]})}"
  local started=$SECONDS
  # The tests on the JVM's own class path (not the launcher's -cp): child JVMs inherit java.class.path.
  # ChurnStressTest (the never-stale sweep) runs a 20,000-operation slice here, 100,000 on the host.
  local reports=$results/$name-reports
  [ ${#prefix[@]} -eq 0 ] || reports=$scratch/$name-reports
  "${prefix[@]}" java --enable-native-access=ALL-UNNAMED -Dmemreg.test.realNumaNodes=4 \
      -Dmemreg.test.trail="$scratch/$name.trail" -Dmemreg.test.childTimeoutSeconds=600 -Dmemreg.test.churnOperations=20000 -Dmemreg.test.crossThreadCycles=100 -Dmemreg.test.unmapRaceRounds=10 -cp "$cp" \
      org.junit.platform.console.ConsoleLauncher execute --disable-banner --disable-ansi-colors --details=tree \
      --exclude-engine=junit-vintage --fail-if-no-tests --reports-dir "$reports" "${selectors[@]}" 2>&1 \
    | tee "$results/$name.log"
  local status=${PIPESTATUS[0]}
  local ok failed skipped aborted
  ok=$(awk '/tests successful/ {print $2}' "$results/$name.log")
  failed=$(awk '/tests failed/ {print $2}' "$results/$name.log")
  skipped=$(awk '/tests skipped/ {print $2}' "$results/$name.log")
  aborted=$(awk '/tests aborted/ {print $2}' "$results/$name.log")
  echo "${ok:-0} ${failed:-0} $((${skipped:-0} + ${aborted:-0})) $status" > "$results/$name.summary"
  echo "vm-suite: $name: ${ok:-0} passed, ${failed:-0} failed, $((${skipped:-0} + ${aborted:-0})) skipped or aborted, $((SECONDS - started)) s, status $status"
  [ "$status" -eq 0 ] || digest "$name" "$status" "${ok:-}" >> "$scratch/digest"
  return "$status"
}

# digest NAME STATUS OK: why phase NAME failed, in a few lines
digest() {
  local name=$1 status=$2 ok=$3
  if [ -n "$ok" ]; then
    echo "vm-suite: $name failed (status $status); its failed tests:"
    grep -A 4 '✘' "$results/$name.log" | head -n 40
  else
    local how="status $status"
    [ "$status" -le 128 ] || how="killed by SIG$(kill -l $((status - 128)) 2>/dev/null || echo "$((status - 128))")"
    echo "vm-suite: $name: the test JVM died ($how) before its summary; the last tests it started and ended:"
    tail -n 4 "$scratch/$name.trail" 2>/dev/null || echo "  (no trail: it died before the first test)"
    dmesg 2>/dev/null | grep -E -i 'out of memory|killed process|oom-kill|segfault|traps:' | tail -n 6
    echo "vm-suite: now $(grep -E '^(MemAvailable|Mlocked|Shmem):' /proc/meminfo | tr -s ' ' | paste -s -d ',')"
  fi
  local crash
  for crash in "$scratch"/hs_err_pid*.log; do
    [ -e "$crash" ] || continue
    echo "vm-suite: a JVM crashed, $results/${crash##*/}:"
    sed -n '1,/^----/p' "$crash" | grep -v -E '^#? *$|^----|^# (If you would|https?:|No core dump|The crash happened|An error report|See problematic)' | head -n 14
    cp "$crash" "$results/" 2>/dev/null
    mv "$crash" "$crash.seen"
  done
}

# Automatic NUMA balancing (on by default in this kernel) moves pages by itself: placement tests
# could not tell its moves from a fault, and on 6.1 move_pages reads a page it is sampling as not
# present. Off while the tests run; README, "NUMA placement and migration", says what it means.
balancing=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null || echo absent)
[ "$balancing" = absent ] || echo 0 > /proc/sys/kernel/numa_balancing
echo "vm-suite: kernel.numa_balancing was $balancing, now $(cat /proc/sys/kernel/numa_balancing 2>/dev/null || echo absent)"

status=0
# nobody's phase runs alongside root's: the VM has four CPUs, a JVM spends some 40 s starting under
# emulation, and the tests must pass under load anyway. Its output follows root's.
# The hooks' cross-thread check for an unprivileged user runs in nobody's own JVM here, rather than
# in a child JVM that root starts; so do the RLIMIT_MEMLOCK probes (root's phase is the longer one).
junit nobody setpriv --reuid=65534 --regid=65534 --clear-groups -- \
  org.memreg.linux.UserfaultfdTest org.memreg.linux.UserfaultfdEventsTest \
  org.memreg.linux.MemoryLockTest org.memreg.device.MlockDeviceTest \
  org.memreg.device.MlockRlimitTest org.memreg.cache.CacheRlimitTest \
  'org.memreg.monitor.CrossThreadStaleTest#hooksShouldNeverHandOutARegistrationOlderThanItsMemory' \
  > "$scratch/nobody.out" 2>&1 &
nobody=$!
junit root -- \
  org.memreg.numa.TopologyMigrationTest org.memreg.numa.MigrationCoordinationTest \
  org.memreg.numa.LinuxPlacementTest org.memreg.numa.ArenaPlacementTest org.memreg.numa.OtherProcessTest \
  org.memreg.cli.LiveMigrationTest org.memreg.linux.NumaBindingsTest \
  org.memreg.linux.UserfaultfdTest org.memreg.linux.UserfaultfdEventsTest org.memreg.linux.PagemapTest \
  org.memreg.monitor.MemoryChangeScenariosTest org.memreg.monitor.ChurnStressTest \
  org.memreg.monitor.HookMonitorTest org.memreg.monitor.StrictMonitorTest org.memreg.monitor.CrossThreadStaleTest \
  org.memreg.monitor.UnwatchableMemoryTest org.memreg.monitor.BrokenMonitorTest \
  org.memreg.linux.MemoryLockTest \
  org.memreg.linux.PressureTriggerTest org.memreg.monitor.PressureWatcherTest \
  '--exclude-methodname=.*hooksShouldHoldForAnUnprivilegedUser' || status=1
wait "$nobody" || status=1
cat "$scratch/nobody.out"

if [ "${MEMREG_VM_BENCH:-0}" = 1 ]; then
  echo "vm-suite: memreg bench --only crossthread --quick (a figure, not a test)"
  java --enable-native-access=ALL-UNNAMED -Djava.awt.headless=true -cp "$cp" org.memreg.cli.Main bench \
      --only crossthread --quick --samples 2000 --out /tmp/memreg-bench 2>&1 | tee "$results/crossthread.log"
  bench=${PIPESTATUS[0]}
  [ "$bench" -eq 0 ] || { echo "vm-suite: memreg bench exited with status $bench"; status=1; }
else
  echo "vm-suite: memreg bench --only crossthread not run (a figure, not a test; MEMREG_VM_BENCH=1 runs it)"
fi

read -r ok failed skipped <<< "$(cat "$results"/*.summary | awk '{o += $1; f += $2; s += $3} END {print o, f, s}')"
echo "vm-suite: $ok passed, $failed failed, $skipped skipped"
[ ! -s "$scratch/digest" ] || cat "$scratch/digest"
exit "$status"
