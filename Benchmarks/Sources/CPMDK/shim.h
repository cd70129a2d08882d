#include <libpmemobj.h>

// pmemobj_tx_begin is variadic, which Swift cannot call.
static inline int snapshot_pmemobj_tx_begin(PMEMobjpool *pool) {
  return pmemobj_tx_begin(pool, NULL, TX_PARAM_NONE);
}

// The flag is a macro with a cast, which Swift does not import.
static inline PMEMoid snapshot_pmemobj_tx_alloc_no_abort(size_t size) {
  return pmemobj_tx_xalloc(size, 0, POBJ_XALLOC_NO_ABORT);
}
