#!/usr/bin/env bash
# bin/test's VM part: the kernel-facing tests (bin/lib/vm-suite.sh) in a 4-node VM on Debian's 6.1
# kernel (bin/vm-test), after Maven has built and tested everything on the host. Argument: how many
# arguments bin/test passed to Maven (a partial run skips the VM unless MEMREG_VM=1).
# MEMREG_VM=0 skips it; MEMREG_VM_TIMEOUT bounds the VM (default 900 s). Exits non-zero when a test
# in the VM fails or the VM cannot be run to the end; 0 with a printed reason when it is skipped.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${MEMREG_VM:-}" = 0 ]; then
  echo "memreg: VM part skipped: MEMREG_VM=0 (the NUMA and kernel-6.1 tests of bin/lib/vm-suite.sh did not run)"
  exit 0
fi
if [ "${1:-0}" -gt 0 ] && [ "${MEMREG_VM:-}" != 1 ]; then
  echo "memreg: VM part skipped: bin/test was given Maven arguments (a partial run); MEMREG_VM=1 runs it too"
  exit 0
fi
echo "memreg: VM part: NUMA on 4 real nodes and the kernel-facing tests on Debian's 6.1 kernel, in a VM (bin/vm-test, about 3 minutes here; MEMREG_VM=0 skips it)"
started=$SECONDS
"$root/bin/lib/vm-prepare.sh"
"$root/bin/vm-test" --timeout "${MEMREG_VM_TIMEOUT:-900}" -- "$root/bin/lib/vm-suite.sh"
status=$?
case $status in
  0) echo "memreg: VM part passed in $((SECONDS - started)) s (preparation, boot and tests)" ;;
  77) echo "memreg: VM part skipped: this machine cannot run the VM (reason above)"; exit 0 ;;
  124) echo "memreg: VM part FAILED: the VM did not finish within ${MEMREG_VM_TIMEOUT:-900} s" ;;
  *) echo "memreg: VM part FAILED (status $status): see the output above" ;;
esac
exit "$status"
