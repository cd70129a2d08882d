#include "Atomics.h"

static _Thread_local struct {
  uint64_t region;
  void *object;
} slot;

void *snapshot_thread_slot(uint64_t region) {
  return slot.region == region ? slot.object : 0;
}

void snapshot_set_thread_slot(uint64_t region, void *object) {
  slot.region = region;
  slot.object = object;
}
