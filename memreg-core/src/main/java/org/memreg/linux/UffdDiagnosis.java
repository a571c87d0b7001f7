package org.memreg.linux;

/**
 * Turns a failed userfaultfd open or UFFDIO_API handshake into a sentence a monitor can log as
 * "userfaultfd not available: ...". Package-private; reached through {@link NotAvailableException}.
 */
final class UffdDiagnosis {
    private UffdDiagnosis() {
    }

    /** Why the userfaultfd syscall failed, with and then without UFFD_USER_MODE_ONLY. */
    static String openFailure(int userModeErrno, int errno) {
        String tried = "userfaultfd(UFFD_USER_MODE_ONLY) gave " + Errno.name(userModeErrno)
                + ", userfaultfd(0) gave " + Errno.name(errno);
        return switch (errno) {
            case Errno.ENOSYS -> "the kernel has no userfaultfd syscall (built without "
                    + "CONFIG_USERFAULTFD) or a seccomp filter hides it; " + tried;
            case Errno.EPERM -> "not permitted: without CAP_SYS_PTRACE it needs "
                    + "vm.unprivileged_userfaultfd=1 (here " + UffdFeatures.unprivilegedSysctl()
                    + ") or UFFD_USER_MODE_ONLY (Linux 5.11+), or a seccomp/LSM policy (such as "
                    + "a container runtime's default seccomp profile) forbids it; " + tried;
            default -> tried;
        };
    }

    /** Why UFFDIO_API refused the {@code requested} features. */
    static String apiFailure(int errno, long requested) {
        if (errno == Errno.EPERM && (requested & UffdFeatures.EVENT_FORK) != 0) {
            return "feature EVENT_FORK needs CAP_SYS_PTRACE";
        }
        if (errno != Errno.EINVAL) {
            return "the UFFDIO_API handshake failed";
        }
        // The kernel zeroes its answer on failure: ask a second descriptor what it supports.
        long supported = Userfaultfd.supportedFeatures();
        return supported == -1
                ? "the kernel refused the features " + UffdFeatures.featureNames(requested)
                : "the kernel lacks the features " + UffdFeatures.featureNames(requested & ~supported)
                        + " (it has " + UffdFeatures.featureNames(supported) + ")";
    }
}
