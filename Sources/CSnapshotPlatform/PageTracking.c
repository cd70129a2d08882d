#include "PageTracking.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define SNAPSHOT_MAX_TRACKERS 64
#define SNAPSHOT_PAGE_SIZE 4096

static _Atomic(snapshot_page_tracker *) trackers[SNAPSHOT_MAX_TRACKERS];
static struct sigaction previous_action;
static atomic_int installed;

static void record(snapshot_page_tracker *tracker, size_t page) {
  if (atomic_exchange((_Atomic uint8_t *)&tracker->page_state[page], 1) == 0) {
    size_t slot = atomic_fetch_add((_Atomic size_t *)&tracker->dirty_count, 1);
    tracker->dirty_pages[slot] = (uint32_t)page;
  }
}

static int handle(snapshot_page_tracker *tracker, uintptr_t address) {
  if (address < tracker->base || address >= tracker->base + tracker->length) return 0;
  size_t page = (address - tracker->base) / SNAPSHOT_PAGE_SIZE;
  size_t pages = tracker->length / SNAPSHOT_PAGE_SIZE;
  if (atomic_fetch_add((_Atomic size_t *)&tracker->isolated_count, 1) < tracker->isolated_budget) {
    record(tracker, page);
    mprotect((void *)(tracker->base + page * SNAPSHOT_PAGE_SIZE), SNAPSHOT_PAGE_SIZE, PROT_READ | PROT_WRITE);
    return 1;
  }
  size_t first = page & ~(tracker->chunk_pages - 1);
  size_t end = first + tracker->chunk_pages < pages ? first + tracker->chunk_pages : pages;
  for (size_t other = first; other < end; other++) record(tracker, other);
  mprotect((void *)(tracker->base + first * SNAPSHOT_PAGE_SIZE), (end - first) * SNAPSHOT_PAGE_SIZE,
           PROT_READ | PROT_WRITE);
  return 1;
}

static void on_fault(int signal, siginfo_t *info, void *context) {
  uintptr_t address = (uintptr_t)info->si_addr;
  if (info->si_code == SEGV_ACCERR) {
    for (int index = 0; index < SNAPSHOT_MAX_TRACKERS; index++) {
      snapshot_page_tracker *tracker = atomic_load(&trackers[index]);
      if (tracker != NULL && handle(tracker, address)) return;
    }
  }
  // Not a tracked write: hand the fault to whoever handled it before.
  if (previous_action.sa_flags & SA_SIGINFO) {
    previous_action.sa_sigaction(signal, info, context);
  } else if (previous_action.sa_handler == SIG_IGN) {
    return;
  } else if (previous_action.sa_handler == SIG_DFL) {
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigaction(signal, &fallback, NULL);
    raise(signal);
  } else {
    previous_action.sa_handler(signal);
  }
}

int snapshot_page_tracking_install(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return 0;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSEGV, &action, &previous_action) != 0) {
    atomic_store(&installed, 0);
    return errno;
  }
  return 0;
}

int snapshot_page_tracker_register(snapshot_page_tracker *tracker) {
  for (int index = 0; index < SNAPSHOT_MAX_TRACKERS; index++) {
    snapshot_page_tracker *expected = NULL;
    if (atomic_compare_exchange_strong(&trackers[index], &expected, tracker)) return 0;
  }
  return ENOSPC;
}

void snapshot_page_tracker_unregister(snapshot_page_tracker *tracker) {
  for (int index = 0; index < SNAPSHOT_MAX_TRACKERS; index++) {
    snapshot_page_tracker *expected = tracker;
    if (atomic_compare_exchange_strong(&trackers[index], &expected, NULL)) return;
  }
}
