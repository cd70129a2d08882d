// The few machine instructions Swift cannot express, as `static inline` functions so that they inline
// into their Swift callers, (Atomics.h) atomic operations on raw memory and a thread-local slot, and
// (PageTracking.h) the page-fault handler of page-granular tracking.
// Everything else lives in Swift.
#ifndef CSNAPSHOT_PLATFORM_H
#define CSNAPSHOT_PLATFORM_H

#include <stdint.h>
#include <stdbool.h>

#include "Atomics.h"
#include "PageTracking.h"

#if defined(__x86_64__)

/// Writes the cache line holding `p` back to memory, keeping it cached.
static inline __attribute__((always_inline)) void snapshot_clwb(const void *p) {
  __asm__ volatile("clwb %0" : "+m"(*(volatile char *)p));
}

/// Writes the cache line holding `p` back to memory and evicts it; weakly ordered.
static inline __attribute__((always_inline)) void snapshot_clflushopt(const void *p) {
  __asm__ volatile("clflushopt %0" : "+m"(*(volatile char *)p));
}

/// Writes the cache line holding `p` back to memory and evicts it; ordered with other stores.
static inline __attribute__((always_inline)) void snapshot_clflush(const void *p) {
  __asm__ volatile("clflush %0" : "+m"(*(volatile char *)p));
}

/// Orders all earlier stores, flushes and non-temporal stores before all later stores.
static inline __attribute__((always_inline)) void snapshot_sfence(void) {
  __asm__ volatile("sfence" ::: "memory");
}

/// Copies one 64-byte line with one AVX-512 non-temporal store. `dst` must be 64-byte aligned; `src`
/// need not be. Only where the processor has AVX-512F and the system saves its registers
/// (`CPUFeatures`). `zmm16` rather than `zmm0`-`zmm15`: the upper registers leave the SSE and AVX
/// code around it no state to clean up (`vzeroupper`).
static inline __attribute__((always_inline)) void snapshot_stream_line_avx512(void *dst, const void *src) {
  __asm__ volatile(
      "vmovdqu64 (%1), %%zmm16\n\t"
      "vmovntdq %%zmm16, (%0)\n\t"
      :
      : "r"(dst), "r"(src)
      : "xmm16", "memory");
}

/// `xgetbv`: which register states the operating system saves on a context switch (XCR0 for `index` 0).
/// Only where `cpuid` reports OSXSAVE.
static inline uint64_t snapshot_xgetbv(uint32_t index) {
  uint32_t low, high;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(index));
  return ((uint64_t)high << 32) | low;
}

/// Copies one 64-byte line with non-temporal stores. `dst` must be 16-byte aligned; `src` need not be.
static inline __attribute__((always_inline)) void snapshot_stream_line(void *dst, const void *src) {
  __asm__ volatile(
      "movdqu   0(%1), %%xmm0\n\t"
      "movdqu  16(%1), %%xmm1\n\t"
      "movdqu  32(%1), %%xmm2\n\t"
      "movdqu  48(%1), %%xmm3\n\t"
      "movntdq %%xmm0,  0(%0)\n\t"
      "movntdq %%xmm1, 16(%0)\n\t"
      "movntdq %%xmm2, 32(%0)\n\t"
      "movntdq %%xmm3, 48(%0)\n\t"
      :
      : "r"(dst), "r"(src)
      : "xmm0", "xmm1", "xmm2", "xmm3", "memory");
}

/// Stores one aligned 8-byte word with a non-temporal store.
static inline __attribute__((always_inline)) void snapshot_stream_word(uint64_t *dst, uint64_t value) {
  __asm__ volatile("movnti %1, %0" : "=m"(*dst) : "r"(value) : "memory");
}

/// One step of the CRC32C (Castagnoli) instruction over 8 bytes.
static inline __attribute__((always_inline)) uint32_t snapshot_crc32c_u64(uint32_t crc, uint64_t value) {
  uint64_t c = crc;
  __asm__("crc32q %1, %0" : "+r"(c) : "r"(value));
  return (uint32_t)c;
}

/// One step of the CRC32C instruction over 1 byte.
static inline __attribute__((always_inline)) uint32_t snapshot_crc32c_u8(uint32_t crc, uint8_t value) {
  __asm__("crc32b %1, %0" : "+r"(crc) : "r"(value));
  return crc;
}

/// `cpuid` with the given leaf and subleaf.
static inline void snapshot_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
  __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(subleaf));
}

#define SNAPSHOT_HAS_X86_INSTRUCTIONS 1

#else

// Other architectures: ordinary stores and a full barrier. There is no persistent memory to flush to,
// and the portable CRC32C in Swift is used.
static inline void snapshot_clwb(const void *p) { (void)p; }
static inline void snapshot_clflushopt(const void *p) { (void)p; }
static inline void snapshot_clflush(const void *p) { (void)p; }
static inline void snapshot_sfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void snapshot_stream_line(void *dst, const void *src) { __builtin_memcpy(dst, src, 64); }
static inline void snapshot_stream_line_avx512(void *dst, const void *src) { __builtin_memcpy(dst, src, 64); }
static inline uint64_t snapshot_xgetbv(uint32_t index) { (void)index; return 0; }
static inline void snapshot_stream_word(uint64_t *dst, uint64_t value) { *dst = value; }
static inline uint32_t snapshot_crc32c_u64(uint32_t crc, uint64_t value) { (void)value; return crc; }
static inline uint32_t snapshot_crc32c_u8(uint32_t crc, uint8_t value) { (void)value; return crc; }
static inline void snapshot_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
  (void)leaf; (void)subleaf; out[0] = out[1] = out[2] = out[3] = 0;
}

#define SNAPSHOT_HAS_X86_INSTRUCTIONS 0

#endif

/// Starts loading the cache line holding `p` for reading: a hint, which changes no memory and cannot
/// fault, so `p` may be any address.
static inline __attribute__((always_inline)) void snapshot_prefetch(const void *p) {
  __builtin_prefetch(p, 0, 3);
}

#endif
