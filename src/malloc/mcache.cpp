// mcache: the allocation caches (Go: mcache.go), the thread-local slot the fast paths read,
// the binding of a P's cache to the thread that runs the P, thread exit and fork handling.
//
// Go keeps one mcache per P; so does gort while a thread runs goroutines, and every other
// thread (plain threads, an M with no P: idle, or in a blocking call, and the LD_PRELOAD
// library, which has no scheduler) gets a cache of its own, made at its first allocation.
// The fast paths read one thread-local slot, tls_cache. The scheduler points it at the P's
// cache whenever the thread gains a P (acquirep, exitsyscall's fast path) and back at the
// thread's own cache (tls_own, possibly not made yet) whenever it loses one (releasep,
// entersyscall before the call runs, procresize moving the caller to P 0). So memory held
// in caches is bounded by GOMAXPROCS plus the threads that allocate without a P, not by
// the number of Ms a program of blocking calls piles up.
//
// THE invariant: two threads never use one mcache at the same time. A thread's own cache
// is used by that thread only. A P's cache is used only by the thread that holds the P:
// the switch away from it happens on that thread before the P is published to anyone
// else (its status store / CAS, release), and the switch to it after the thread took the
// P (acquire), so the P's hand-off orders every use of the cache. An allocator call never
// parks or yields, so a call that loaded the slot finishes on the same thread with the
// same P. bind_cache checks the invariant (bound_thread) and stops the process if a P's
// cache is bound twice.
//
// Other invariants: only the using thread touches alloc[], tiny*, and the spans it
// caches; stats fields are atomics so read_mem_stats may read them. A P's cache lives as
// long as the P (allp entries are never freed); when procresize kills a P, flush_p_cache
// gives everything it holds back (spans to mcentral, page cache to the heap, magazines to
// their spans). At thread exit (a pthread key destructor) the thread's own cache (never a
// P's) goes back the same way and its stats are folded into the heap's retired totals.
// fork: the child's only thread keeps whatever cache it had bound.
#include <pthread.h>

#include <cerrno>

#include "malloc/malloc.hpp"
#include "malloc/malloc_fast.hpp"

namespace gort::malloc {

constinit thread_local mcache* tls_cache [[gnu::tls_model("initial-exec")]] = nullptr;
// The thread's own cache (null until its first allocation without a P).
constinit thread_local mcache* tls_own [[gnu::tls_model("initial-exec")]] = nullptr;

namespace {

std::atomic<int> once_state{0};  // 0 none, 1 running, 2 done
pthread_key_t cache_key;

void cache_destructor(void* arg) {
  auto* c = static_cast<mcache*>(arg);
  // Only the thread's own cache: a P's cache stays with its P (an M gives its P back
  // before its thread ends).
  tls_cache = nullptr;
  tls_own = nullptr;
  c->release_all();
  heap_free_mcache(c);
}

void fork_prepare() { heap_lock_all(); }
void fork_parent() { heap_unlock_all(); }
void fork_child() { heap_after_fork_child(); }

// Once per process: the thread-exit key and the fork handlers.
void init_once() {
  int st = 0;
  if (once_state.compare_exchange_strong(st, 1, std::memory_order_acquire)) {
    pthread_key_create(&cache_key, cache_destructor);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    once_state.store(2, std::memory_order_release);
  } else {
    while (once_state.load(std::memory_order_acquire) != 2) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }
}

}  // namespace

[[gnu::noinline]] mcache* create_cache() {
  mcache* c = heap_new_mcache();
  if (c == nullptr) return nullptr;
  // Before anything below can call malloc again on this thread. Only reached with no
  // cache bound (a thread holding a P has the P's), so the thread's own becomes current.
  tls_own = c;
  tls_cache = c;
  init_once();
  pthread_setspecific(cache_key, c);
  return c;
}

mcache* new_p_cache() {
  mcache* c = heap_new_mcache();
  if (c == nullptr) fatal("out of memory allocating a P's mcache", nullptr);
  c->is_p_cache = true;
  init_once();
  return c;
}

void bind_cache(mcache* c) {
  if (tls_cache == c) return;
  if (tls_cache != nullptr && tls_cache != tls_own) unbind_cache();  // moving to another P
  // The check of the invariant (see the top of this file): plain loads and stores, as
  // the P's hand-off orders them; a second thread binding a bound cache stops here.
  const void* self = &tls_own;
  if (c->bound_thread.load(std::memory_order_relaxed) != nullptr)
    fatal("bind_cache: a P's mcache is in use by another thread", c);
  c->bound_thread.store(self, std::memory_order_relaxed);
  tls_cache = c;
}

void unbind_cache() {
  mcache* c = tls_cache;
  if (c != nullptr && c != tls_own) {
    if (c->bound_thread.load(std::memory_order_relaxed) != &tls_own)
      fatal("unbind_cache: the thread's P cache is bound to another thread", c);
    c->bound_thread.store(nullptr, std::memory_order_relaxed);
  }
  tls_cache = tls_own;  // null until the thread's first allocation without a P
}

void flush_p_cache(mcache* c) {
  if (c->bound_thread.load(std::memory_order_relaxed) != nullptr)
    fatal("flush_p_cache: the P's mcache is in use", c);
  c->release_all();
}

bool bound_to_other_thread(const mcache* c) {
  const void* b = c->bound_thread.load(std::memory_order_relaxed);
  return b != nullptr && b != &tls_own;
}

void install_fork_handlers() { get_mcache(); }  // a thread's first cache runs init_once

bool current_cache_is_p_cache() {
  mcache* c = tls_cache;
  return c != nullptr && c->is_p_cache;
}

void mcache::init() {
  for (auto& s : alloc) s = &empty_mspan;
  dormant[0].p = mag_full_marker;
  for (auto& top : mag_top) top.store(&dormant[1], std::memory_order_relaxed);
}

void mcache::activate_magazine(int spc) {
  magazine& g = mag[spc];
  std::uint32_t cap = magazine_capacity(class_to_size[spc >> 1]);
  for (auto& e : g.e) e = {nullptr, 0};
  g.e[magazine_max - cap].p = mag_full_marker;
  mag_top[spc].store(g.end(), std::memory_order_relaxed);
}

namespace {

std::uintptr_t tag(const mcache* c, int spc) {
  return reinterpret_cast<std::uintptr_t>(c) | (spc == tiny_span_class ? owner_tiny_bit : 0);
}

}  // namespace

void mcache::unlink_retained(mspan* s) {
  int spc = s->spanclass;
  if (s->prev) s->prev->next = s->next; else retained_head[spc] = s->next;
  if (s->next) s->next->prev = s->prev; else retained_tail[spc] = s->prev;
  nretained[spc]--;
  s->next = s->prev = nullptr;
}

void mcache::link_retained(int spc, mspan* s, bool front) {
  if (front) {
    s->prev = nullptr;
    s->next = retained_head[spc];
    if (s->next) s->next->prev = s; else retained_tail[spc] = s;
    retained_head[spc] = s;
  } else {
    s->next = nullptr;
    s->prev = retained_tail[spc];
    if (s->prev) s->prev->next = s; else retained_head[spc] = s;
    retained_tail[spc] = s;
  }
  nretained[spc]++;
}

void mcache::retain(int spc, mspan* s) {
  s->collect_remote();
  s->alloc_cache = 0;
  std::uint32_t held = magazine_objects(s);
  std::uint32_t live = s->count_alloc() + held;
  if (live == 0) {
    s->set_owner(owner_uncached);
    free_span(s);  // to the page cache or the heap
    return;
  }
  // A span that only other threads free into (a producer's, in a producer/consumer
  // program) goes back to mcentral once this class already keeps cross_retain_max spans,
  // so that any thread's refill finds the room those frees make; retained, it would wait
  // for this thread to look at it again, which a producer blocked on a full queue does
  // not. Short lists stay (larson's threads free each other's objects but keep a couple
  // of spans per class: sending them through mcentral cost 2x there). Not while the
  // magazine holds objects of it.
  if (s->cross && held == 0 && nretained[spc] >= cross_retain_max) {
    central(spc).uncache_span(s);
    return;
  }
  s->set_retained_live(live);
  s->live_at_retain = live;
  s->retained = true;
  link_retained(spc, s, false);
}

mspan* mcache::take_retained(int spc) {
  // Look at a few from the front (rotating the rest), so a refill costs O(1).
  for (int k = 0; k < 4 && retained_head[spc] != nullptr; k++) {
    mspan* s = retained_head[spc];
    if (s->collect_remote() != 0) {
      if (s->retained_live() == s->live_at_retain) s->cross = true;  // remote frees only, this stretch
      s->set_retained_live(live_objects(s));
    }
    unlink_retained(s);
    if (s->retained_live() <= s->room_mark) {
      s->set_owner(tag(this, spc));
      s->freeindex = 0;
      s->alloc_cache = 0;
      return s;
    }
    link_retained(spc, s, false);
  }
  return nullptr;
}

void mcache::countdown_ended(mspan* s) {
  if (!s->retained) {
    s->free_countdown = mspan::countdown_unretained;
    return;
  }
  if (s->live_floor == 0) {  // empty, as the owner counts it
    unlink_retained(s);
    // Fold remote frees first: one pending over a clear alloc bit is a double free.
    s->collect_remote();
    if (live_objects(s) == 0) {
      s->set_owner(owner_uncached);
      free_span(s);
    } else {
      central(s->spanclass).uncache_span(s);
    }
    return;
  }
  // Down to room_mark: room again, so to the front; the next event is empty.
  if (retained_head[s->spanclass] != s) {
    int spc = s->spanclass;
    unlink_retained(s);
    link_retained(spc, s, true);
  }
  s->set_retained_live(s->live_floor);
}

void mcache::flush_span_cache(bool all) {
  std::uint32_t now = scavenger_ticks.load(std::memory_order_relaxed);
  span_cache_tick = now;
  for (auto& slot : span_cache) {
    std::uint32_t drop = 0;  // entries are oldest first
    while (drop < slot.n && (all || now - slot.stamp[drop] >= 2)) drop++;
    if (drop == 0) continue;
    for (std::uint32_t i = 0; i < drop; i++) {
      span_cache_pages -= slot.s[i]->npages;
      heap_free_span(slot.s[i]);
    }
    for (std::uint32_t i = drop; i < slot.n; i++) {
      slot.s[i - drop] = slot.s[i];
      slot.stamp[i - drop] = slot.stamp[i];
    }
    slot.n -= drop;
  }
}

void mcache::free_span(mspan* s) {
  std::size_t np = s->npages;
  if (np > span_cache_max_pages || s->tiny_refs != nullptr) {
    heap_free_span(s);
    return;
  }
  if (scavenger_ticks.load(std::memory_order_relaxed) != span_cache_tick) flush_span_cache(false);
  s->collect_remote();  // nothing pending (the callers folded), unless a bad free raced in
  span_cache_slot& slot = span_cache[np];
  if (slot.n == span_cache_ways || span_cache_pages + np > span_cache_cap_pages) {
    if (slot.n == 0) {  // full with other sizes: the heap takes this one
      heap_free_span(s);
      return;
    }
    span_cache_pages -= np;  // evict the oldest of this size
    heap_free_span(slot.s[0]);
    for (std::uint32_t i = 1; i < slot.n; i++) {
      slot.s[i - 1] = slot.s[i];
      slot.stamp[i - 1] = slot.stamp[i];
    }
    slot.n--;
  }
  // Dead to every check from here on (a free into it reports a double free). It stays
  // counted in the heap's span totals under its old class until reused or given back.
  GORT_POISON(reinterpret_cast<void*>(s->start), np * page_size);
  s->state.store(span_dead, std::memory_order_relaxed);
  s->set_owner(owner_uncached);
  slot.s[slot.n] = s;
  slot.stamp[slot.n] = span_cache_tick;
  slot.n++;
  span_cache_pages += np;
}

mspan* mcache::cached_span(std::size_t npages, std::uint8_t spanclass) {
  if (npages > span_cache_max_pages || spanclass == tiny_span_class) return nullptr;
  if (scavenger_ticks.load(std::memory_order_relaxed) != span_cache_tick) flush_span_cache(false);
  span_cache_slot& slot = span_cache[npages];
  if (slot.n == 0) return nullptr;
  mspan* s = slot.s[--slot.n];
  span_cache_pages -= npages;
  revive_span(s, spanclass, true);
  return s;
}

mspan* mcache::refill(int spc) {
  mspan* old = alloc[spc];
  alloc[spc] = &empty_mspan;
  if (old != &empty_mspan) retain(spc, old);
  mspan* s = take_retained(spc);
  if (s == nullptr) s = central(spc).cache_span(this);
  if (s == nullptr) return nullptr;
  alloc[spc] = s;
  return s;
}

void* mcache::next_free(int spc) {
  mspan* s = alloc[spc];
  // Every allocation pops the magazine first, so it is empty here, and no clear bit in
  // this class's spans is a magazine object (see the magazines in malloc.hpp). A bitmap
  // scan with objects in the magazine would hand them out twice. The class's first use
  // sets its magazine up: only a span this cache allocates from takes its local frees.
  if (use_magazines) {
    magazine_entry* top = mag_top[spc].load(std::memory_order_relaxed);
    if (top == &dormant[1]) activate_magazine(spc);
    else if (top->p != nullptr) fatal("malloc: bitmap refill with objects in the magazine", top->p);
  }
  if (s == &empty_mspan || !s->refill_cache(false)) {
    s = refill(spc);
    if (s == nullptr || !s->refill_cache(true)) {
      errno = ENOMEM;  // see mallocgc
      return nullptr;
    }
  }
  std::uint64_t cache = s->alloc_cache;
  // Count every object this cache window offers as allocated now (Go counts a whole span
  // at refill); release_all takes back what was not handed out.
  auto& n = nmalloc[spc >> 1];
  n.store(n.load(std::memory_order_relaxed) + std::uint64_t(__builtin_popcountll(cache)),
          std::memory_order_relaxed);
  return take_cached(s, cache);
}

bool mcache::in_magazine(int spc, const void* p) const {
  for (const magazine_entry* e = mag_top[spc].load(std::memory_order_relaxed); e->p != nullptr; e++)
    if (e->p == p) return true;
  return false;
}

std::uint32_t mcache::magazine_objects(const mspan* s) const {
  std::uint32_t n = 0;
  std::uintptr_t lo = s->start, hi = s->limit();
  for (const magazine_entry* e = mag_top[s->spanclass].load(std::memory_order_relaxed); e->p != nullptr; e++) {
    std::uintptr_t a = reinterpret_cast<std::uintptr_t>(e->p);
    if (a >= lo && a < hi) n++;
  }
  return n;
}

std::uint32_t mcache::live_objects(const mspan* s) const {
  return s->count_alloc() + magazine_objects(s);
}

void mcache::flush_magazines() {
  for (int spc = 0; spc < num_span_classes; spc++) {
    for (;;) {
      magazine_entry* top = mag_top[spc].load(std::memory_order_relaxed);
      void* p = top->p;
      if (p == nullptr) break;
      mspan* s = span_of(reinterpret_cast<std::uintptr_t>(p));  // ours: the object keeps it here
      mag_top[spc].store(top + 1, std::memory_order_relaxed);
      GORT_POISON(p, s->elemsize);  // its alloc bit is clear already
      count_bitmap_free(s, std::size_t(spc));  // the push was not counted (see frees_of)
    }
  }
}

void mcache::release_all() {
  flush_magazines();
  drop_tiny();
  for (int spc = 0; spc < num_span_classes; spc++) {
    mspan* s = alloc[spc];
    alloc[spc] = &empty_mspan;
    if (s == &empty_mspan) continue;
    auto& n = nmalloc[spc >> 1];
    n.store(n.load(std::memory_order_relaxed) - std::uint64_t(__builtin_popcountll(s->alloc_cache)),
            std::memory_order_relaxed);
    central(spc).uncache_span(s);
  }
  for (int spc = 0; spc < num_span_classes; spc++) {
    while (mspan* s = retained_head[spc]) {
      unlink_retained(s);
      central(spc).uncache_span(s);
    }
  }
  flush_span_cache(true);
}

std::uint64_t mcache::mallocs_of(int sizeclass) const {
  return nmalloc[sizeclass].load(std::memory_order_relaxed) +
         mag_pops[sizeclass << 1].load(std::memory_order_relaxed) +
         mag_pops[sizeclass << 1 | 1].load(std::memory_order_relaxed);
}

std::uint64_t mcache::frees_of(int sizeclass) const {
  std::uint64_t n = 0;
  for (int spc = sizeclass << 1; spc <= (sizeclass << 1 | 1); spc++) {
    const magazine_entry* top = mag_top[spc].load(std::memory_order_relaxed);
    std::uint64_t occupancy = top == &dormant[1] ? 0 : std::uint64_t(mag[spc].end() - top);
    n += nfree[spc].load(std::memory_order_relaxed) + mag_pops[spc].load(std::memory_order_relaxed) +
         occupancy;
  }
  return n;
}

std::uint64_t mcache::unused_in_cache(int sizeclass) const {
  return std::uint64_t(__builtin_popcountll(alloc[sizeclass << 1]->alloc_cache)) +
         std::uint64_t(__builtin_popcountll(alloc[sizeclass << 1 | 1]->alloc_cache));
}

}  // namespace gort::malloc
