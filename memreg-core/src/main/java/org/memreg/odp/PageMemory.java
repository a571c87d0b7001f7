package org.memreg.odp;

/**
 * What the owner's page table does to real memory: release pages after every mapper let go
 * (munlock, then madvise DONTNEED) and establish them again for a fault (populate, mlock). Called
 * with the table's lock held; must not call back into the table.
 */
public interface PageMemory {
    /** Unpins {@code range} and gives its pages back to the kernel. */
    void release(PageRange range);

    /** Makes {@code range} resident and pins it. */
    void establish(PageRange range);

    /** Memory that does nothing: for tests of the protocol alone. */
    PageMemory NONE = new PageMemory() {
        @Override
        public void release(PageRange range) {
        }

        @Override
        public void establish(PageRange range) {
        }
    };
}
