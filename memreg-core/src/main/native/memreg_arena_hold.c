/*
 * memreg's arena holds (org.memreg.util.ArenaHold). A holder thread calls memreg_hold with a
 * caller's memory as an argument, so that the JVM keeps that memory's arena acquired (a shared
 * arena's close() throws) for as long as the call lasts, and the call lasts until the hold's word
 * says RELEASED. The word: WAITING until the holder is inside the call (the arena is acquired from
 * then on), HELD while it sleeps there, RELEASED once the hold may end, FAILED when the holder
 * could not enter (the arena was closed first; Java sets it).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { WAITING = 0, HELD = 1, RELEASED = 2, FAILED = 3 };

static void wait_while(_Atomic int32_t *word, int32_t value) {
    while (atomic_load_explicit(word, memory_order_acquire) == value) {
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
    }
}

/* Stores value and wakes every thread waiting on the word. */
void memreg_set(_Atomic int32_t *word, int32_t value) {
    atomic_store_explicit(word, value, memory_order_release);
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Sleeps while the word holds value. */
void memreg_await(_Atomic int32_t *word, int32_t value) {
    wait_while(word, value);
}

/*
 * Says HELD, calls held (Java: it wakes those that wait for the hold) and sleeps until released;
 * returns at once when released before it came. memory is only held.
 */
void memreg_hold(const void *memory, _Atomic int32_t *word, void (*held)(void)) {
    (void) memory;
    int32_t waiting = WAITING;
    if (!atomic_compare_exchange_strong_explicit(word, &waiting, HELD, memory_order_acq_rel, memory_order_acquire)) {
        return;
    }
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); /* those in memreg_await */
    held();
    wait_while(word, HELD);
}

/* Calls fn (Java: it hands memory on, and holds it if it must) while the JVM keeps memory's arena acquired. */
void memreg_during(const void *memory, void (*fn)(void)) {
    (void) memory;
    fn();
}
