// pcache: the scheduler's interface to the allocator's per-P caches (Go: p.mcache). A P
// owns one mcache for its whole life; the thread holding the P allocates from it, every
// other thread from a cache of its own. src/sched calls these wherever an M gains or
// loses a P; see src/malloc/mcache.cpp for the invariant (one thread per cache at a time).
//
//   pp->mcache = malloc::new_p_cache();     // procresize, when the P is made
//   malloc::bind_cache(pp->mcache);         // acquirep / exitsyscall took the P
//   malloc::unbind_cache();                 // releasep / entersyscall, before publishing
//   malloc::flush_p_cache(pp->mcache);      // procresize, when the P dies
#pragma once

namespace gort::malloc {

struct mcache;

// A new, empty cache for a P; never freed (Ps are not). Stops the process if out of memory.
mcache* new_p_cache();
// The calling thread allocates from c (its P's cache) until unbind_cache. Call after the
// thread owns the P. Stops the process if another thread has c bound.
void bind_cache(mcache* c);
// The calling thread goes back to its own cache (made at its next allocation if it has
// none). Call before the thread's P can reach another thread.
void unbind_cache();
// Gives back everything c holds (spans to their mcentral, page cache and magazines to the
// heap); c stays usable. c's P must be held by nobody (stopped world).
void flush_p_cache(mcache* c);
// Whether the calling thread allocates from a P's cache now (tests).
bool current_cache_is_p_cache();
// fork: whether c is bound to a thread other than the caller. In a forked child that
// thread did not come along, so c may have been mid-allocation: the P gets a new cache.
bool bound_to_other_thread(const mcache* c);
// Registers the allocator's fork handlers now if not yet done. The scheduler calls it
// before registering its own, so that its prepare handler (which takes the scheduler's
// locks) runs before the allocator's (the heap's locks): the order in which the runtime
// nests them.
void install_fork_handlers();

}  // namespace gort::malloc
