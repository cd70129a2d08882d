// Page-granular write tracking: the working copy is mapped read-only, and the first write to each page
// faults into a SIGSEGV handler that records the page and makes it writable. Written in C because a
// signal handler must not run Swift code (it may allocate, take locks, or retain).
#ifndef CSNAPSHOT_PAGE_TRACKING_H
#define CSNAPSHOT_PAGE_TRACKING_H

#include <stddef.h>
#include <stdint.h>

/// One tracked range of memory. The memory the pointers refer to is owned by the caller and must stay
/// valid while the tracker is registered.
typedef struct snapshot_page_tracker {
  /// The page-aligned start and length of the tracked memory.
  uintptr_t base;
  size_t length;
  /// One byte per page: 0 protected (clean), 1 writable (dirty).
  uint8_t *page_state;
  /// The dirty pages in fault order; room for every page.
  uint32_t *dirty_pages;
  size_t dirty_count;
  /// How many pages may be made writable one by one between two re-arms. Each splits a mapping in
  /// up to three, and a process has a limited number (vm.max_map_count), so past this budget a fault
  /// makes its whole chunk writable and records every page in it as dirty.
  size_t isolated_budget;
  size_t isolated_count;
  /// Pages per chunk, a power of two.
  size_t chunk_pages;
} snapshot_page_tracker;

/// Installs the SIGSEGV handler once per process, keeping the previous one to chain faults that are not
/// tracked writes to. Returns 0, or an errno value.
int snapshot_page_tracking_install(void);

/// Starts routing faults in the tracker's range to it. Returns 0, or ENOSPC when too many trackers are
/// registered.
int snapshot_page_tracker_register(snapshot_page_tracker *tracker);

/// Stops routing faults to the tracker.
void snapshot_page_tracker_unregister(snapshot_page_tracker *tracker);

#endif
