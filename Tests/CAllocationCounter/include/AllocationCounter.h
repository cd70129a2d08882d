#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H

/// The number of heap allocations (malloc, calloc, realloc, memalign, aligned_alloc, posix_memalign)
/// the calling thread has made since it started.
unsigned long allocation_count(void);

/// Whether allocations are counted: not in a sanitizer build, whose runtime owns malloc.
int allocation_counting_available(void);

#endif
