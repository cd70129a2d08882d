// The C target is header-only: every function is `static inline` in CSnapshotPlatform.h.
