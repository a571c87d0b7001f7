# Shared set-up for bin/memreg, bin/test and bin/jmh: find JDK 25, install what is
# missing (Debian packages, as root), and build with Maven. Source it; do not run it.

MEMREG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Every JVM of the VM suite (bin/lib/vm-suite.sh) and the AOT cache made for them (vm-prepare.sh):
# under emulation the JIT's top tier costs more than it gains, and so does a parallel GC.
MEMREG_VM_JVM_OPTIONS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData"

memreg_die() { echo "memreg: $*" >&2; exit 1; }

# memreg_await_line LOG PREFIX WHAT -> the rest of LOG's first line that starts with PREFIX, once the
# server writing LOG has printed it; after 30 s, the log and "WHAT did not start".
memreg_await_line() {
  local log=$1 prefix=$2 what=$3 tries=0 line
  until line=$(grep -m1 "^$prefix" "$log" 2>/dev/null) && [ -n "$line" ]; do
    sleep 0.02; tries=$((tries + 1))
    [ $tries -lt 1500 ] || { cat "$log" >&2; memreg_die "$what did not start"; }
  done
  echo "${line#"$prefix"}"
}

# memreg_perftest LOG ARGS... -> the last line of a ucx_perftest run between two processes on this
# host (iterations, median, average and overall latency in us, average and overall bandwidth in
# MiB/s, message rates): a server on a free port, then a client with ARGS (-t, -s, -n, -w, -O...)
# against it. The logs go to LOG-server.log and LOG-client.log.
memreg_perftest() {
  local log=$1 port=$((30000 + RANDOM % 20000)) tries=0 server
  shift
  timeout 300 ucx_perftest -p "$port" >"$log-server.log" 2>&1 &
  server=$!
  until ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN; do
    sleep 0.05; tries=$((tries + 1))
    [ $tries -lt 200 ] || { kill "$server" 2>/dev/null; memreg_die "ucx_perftest server did not start"; }
  done
  timeout 300 ucx_perftest 127.0.0.1 -p "$port" "$@" -f >"$log-client.log" 2>&1 \
    || { kill "$server" 2>/dev/null; cat "$log-client.log" >&2; memreg_die "ucx_perftest $* failed"; }
  wait "$server" || true
  tail -n 1 "$log-client.log"
}

# JDK 25: $JAVA_HOME if it is 25, else the first /usr/lib/jvm/*25* with a javac.
memreg_find_jdk() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    if "$candidate/bin/java" -version 2>&1 | grep -q 'version "25'; then
      export JAVA_HOME="$candidate"
      export PATH="$JAVA_HOME/bin:$PATH"
      return 0
    fi
  done
  memreg_die "JDK 25 not found (looked at \$JAVA_HOME='${JAVA_HOME:-}' and /usr/lib/jvm/*25*).
Install a JDK 25 (for example Temurin 25 into /usr/lib/jvm/temurin-25-jdk-amd64) or set JAVA_HOME to one."
}

# Installs Debian packages that are missing; needs root (or passwordless sudo).
memreg_apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "memreg: installing ${missing[*]} (apt-get)" >&2
  $sudo apt-get update -qq >/dev/null || memreg_die "apt-get update failed; install ${missing[*]} by hand"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || memreg_die "could not install ${missing[*]}"
}

memreg_setup() {
  memreg_find_jdk
  command -v mvn >/dev/null 2>&1 || memreg_apt_install maven
  # setpriv (util-linux) runs the child JVM that tests eviction against RLIMIT_MEMLOCK.
  command -v setpriv >/dev/null 2>&1 || memreg_apt_install util-linux
  # OpenUCX (the transport's engine, bound through FFM) and its tools; iproute2 for the tests'
  # network namespaces; spin and gcc for the on-demand paging model check and the UCX layout test.
  memreg_apt_install libucx0 ucx-utils libucx-dev iproute2 spin gcc libc6-dev
}

memreg_mvn() {
  (cd "$MEMREG_ROOT" && mvn -B -q -Dstyle.color=never "$@")
}
