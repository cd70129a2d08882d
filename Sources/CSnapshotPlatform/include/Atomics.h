// Atomic operations on words in raw memory (the dirty-line bitmap, the per-thread line lists), which
// Swift's standard library cannot address, and the current thread's slot for a region, which needs a
// thread-local variable. Used only by regions shared between threads.
#ifndef CSNAPSHOT_ATOMICS_H
#define CSNAPSHOT_ATOMICS_H

#include <stdint.h>

#pragma clang assume_nonnull begin

/// A plain load to the processor, but a well-defined one when another thread changes the word.
static inline __attribute__((always_inline)) uint64_t snapshot_load_relaxed(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) uint64_t snapshot_load_acquire(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline __attribute__((always_inline)) void snapshot_store_relaxed(uint64_t *p, uint64_t value) {
  __atomic_store_n(p, value, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void snapshot_store_release(uint64_t *p, uint64_t value) {
  __atomic_store_n(p, value, __ATOMIC_RELEASE);
}

/// A store followed by a full fence: later loads of this thread see what other threads stored before
/// observing it.
static inline __attribute__((always_inline)) void snapshot_store_sequential(uint64_t *p, uint64_t value) {
  __atomic_store_n(p, value, __ATOMIC_SEQ_CST);
}

static inline __attribute__((always_inline)) uint64_t snapshot_load_sequential(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/// Sets `bits` and returns the word as it was.
static inline __attribute__((always_inline)) uint64_t snapshot_fetch_or(uint64_t *p, uint64_t bits) {
  return __atomic_fetch_or(p, bits, __ATOMIC_ACQ_REL);
}

/// Clears `bits`.
static inline __attribute__((always_inline)) void snapshot_clear_bits(uint64_t *p, uint64_t bits) {
  __atomic_fetch_and(p, ~bits, __ATOMIC_ACQ_REL);
}

static inline __attribute__((always_inline)) uint64_t snapshot_exchange(uint64_t *p, uint64_t value) {
  return __atomic_exchange_n(p, value, __ATOMIC_ACQ_REL);
}

/// Replaces `expected` with `desired`; false when the word held something else.
static inline __attribute__((always_inline)) _Bool snapshot_compare_exchange(uint64_t *p, uint64_t expected, uint64_t desired) {
  return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/// Tells the processor this is a spin-wait loop.
static inline __attribute__((always_inline)) void snapshot_spin_pause(void) {
#if defined(__x86_64__)
  __asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
  __asm__ volatile("yield" ::: "memory");
#endif
}

/// The object this thread last registered with the region numbered `region`, or null. A cache of one
/// entry: region numbers are never reused, so an entry left by a closed region never matches.
void *_Nullable snapshot_thread_slot(uint64_t region);

/// Remembers `object` as this thread's for the region numbered `region`.
void snapshot_set_thread_slot(uint64_t region, void *_Nullable object);

#pragma clang assume_nonnull end

#endif
