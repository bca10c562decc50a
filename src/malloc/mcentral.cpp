// mcentral: the spans of one span class that no mcache holds (Go: mcentral.go), and the
// span-level bitmap work they share with mcache (Go: mbitmap.go's nextFreeIndex/refillAllocCache).
//
// Invariants: `partial` spans had a free object when last looked at, `full` ones had none
// (remote frees may have freed some since; cache_span and reclaim look again). A span is in
// at most one list, and in none while an mcache owns it. Each mcentral has its own lock, so
// classes never contend with each other; the heap lock is never held while taking it.
#include <bit>

#include "malloc/malloc.hpp"

namespace gort::malloc {

std::uint32_t mspan::count_alloc() const {
  std::uint32_t n = 0;
  for (std::uint32_t w = 0; w < nwords(); w++)
    n += std::uint32_t(std::popcount(alloc_bits[w].load(std::memory_order_relaxed)));
  return n;
}

bool mspan::has_remote() const {
  if (!remote_pending()) return false;
  for (std::uint32_t w = 0; w < nwords(); w++)
    if (free_bits[w].load(std::memory_order_relaxed) != 0) return true;
  return false;
}

std::uint32_t mspan::collect_remote() {
  std::uint32_t n = 0;
  if (!remote_pending(std::memory_order_relaxed) ||
      (owner.fetch_and(~owner_remote_bit, std::memory_order_acquire) & owner_remote_bit) == 0)
    return 0;
  for (std::uint32_t w = 0; w < nwords(); w++) {
    if (free_bits[w].load(std::memory_order_relaxed) == 0) continue;
    std::uint64_t x = free_bits[w].exchange(0, std::memory_order_acquire);
    std::uint64_t a = alloc_bits[w].load(std::memory_order_relaxed);
    if (__builtin_expect((x & ~a) != 0, 0)) {  // freed remotely, then by the owner again
      std::uint32_t i = w * 64 + std::uint32_t(std::countr_zero(x & ~a));
      fatal("free: double free of an object", reinterpret_cast<void*>(start + std::uintptr_t(i) * elemsize));
    }
    alloc_bits[w].store(a & ~x, std::memory_order_relaxed);
    n += std::uint32_t(std::popcount(x));
  }
  return n;
}

bool mspan::refill_cache(bool fresh) {
  bool wrapped = false;
  for (;;) {
    while (freeindex < nelems) {
      std::uint32_t w = freeindex / 64;
      // Objects freed remotely but not folded yet are not free: a double free by the owner
      // may have cleared their alloc bit (collect_remote reports it).
      std::uint64_t used = alloc_bits[w].load(std::memory_order_relaxed);
      if (remote_pending()) used |= free_bits[w].load(std::memory_order_relaxed);
      std::uint64_t bits = ~used;
      std::uint32_t valid = nelems - w * 64;
      if (valid < 64) bits &= (std::uint64_t{1} << valid) - 1;
      freeindex = (w + 1) * 64;
      if (bits != 0) {
        alloc_cache = bits;
        cache_word = &alloc_bits[w];
        cache_base = start + std::uintptr_t(w) * 64 * elemsize;
        return true;
      }
    }
    alloc_cache = 0;
    if (wrapped) return false;
    collect_remote();
    std::uint32_t nfree = nelems - count_alloc();
    // Wrap round while at least 1/8 is free; a fuller span goes back to mcentral so that
    // a nearly full span is not rescanned for every object.
    if (nfree == 0 || (!fresh && nfree * 8 < nelems)) return false;
    freeindex = 0;
    wrapped = true;
  }
}

void mcentral::push(mspan* s, std::uint8_t which, bool front) {
  mspan*& head = which == list_partial ? partial_head : full_head;
  mspan*& tail = which == list_partial ? partial_tail : full_tail;
  s->list = which;
  if (front) {
    s->prev = nullptr;
    s->next = head;
    if (head) head->prev = s; else tail = s;
    head = s;
  } else {
    s->next = nullptr;
    s->prev = tail;
    if (tail) tail->next = s; else head = s;
    tail = s;
  }
}

void mcentral::unlink(mspan* s) {
  mspan*& head = s->list == list_partial ? partial_head : full_head;
  mspan*& tail = s->list == list_partial ? partial_tail : full_tail;
  if (s->prev) s->prev->next = s->next; else head = s->next;
  if (s->next) s->next->prev = s->prev; else tail = s->prev;
  s->next = s->prev = nullptr;
  s->list = list_none;
}

mspan* mcentral::cache_span(mcache* c) {
  mspan* s = nullptr;
  lock.lock();
  if (partial_head != nullptr) {
    s = partial_head;
    unlink(s);
    s->collect_remote();
  } else {
    // Go looks at up to 100 unswept full spans; we look at up to 100 full spans that have
    // remote frees pending, moving the ones still full to the back.
    mspan* t = full_head;
    for (int k = 0; k < 100 && t != nullptr; k++) {
      mspan* nxt = t->next;
      if (t->has_remote()) {
        t->collect_remote();
        if (t->count_alloc() < t->nelems) {
          unlink(t);
          s = t;
          break;
        }
      }
      t = nxt;
    }
  }
  std::uintptr_t tag = reinterpret_cast<std::uintptr_t>(c) | (spanclass == tiny_span_class ? owner_tiny_bit : 0);
  if (s != nullptr) {
    s->set_owner(tag);
    lock.unlock();
    s->freeindex = 0;
    s->alloc_cache = 0;
    return s;
  }
  lock.unlock();
  s = c != nullptr ? c->cached_span(class_to_npages[spanclass >> 1], spanclass) : nullptr;
  if (s == nullptr) s = heap_alloc_span(class_to_npages[spanclass >> 1], spanclass, 1);  // Go: mcentral.grow
  if (s == nullptr) return nullptr;
  s->set_owner(tag);
  return s;
}

void mcentral::uncache_span(mspan* s) {
  lock.lock();
  s->collect_remote();
  s->set_owner(owner_uncached);
  s->alloc_cache = 0;
  std::uint32_t n = s->count_alloc();
  if (n == 0) {  // nothing live: no legitimate free can still come for it
    lock.unlock();
    heap_free_span(s);
    return;
  }
  push(s, n < s->nelems ? list_partial : list_full, false);
  lock.unlock();
}

void mcentral::note_remote_free(mspan* s) {
  if (s->owner_tag() != owner_uncached || s->list != list_full) return;
  unlink(s);
  push(s, list_partial, false);
}

std::size_t mcentral::reclaim() {
  mspan* dead = nullptr;
  lock.lock();
  for (std::uint8_t which : {list_full, list_partial}) {
    mspan* s = which == list_partial ? partial_head : full_head;
    while (s != nullptr) {
      mspan* nxt = s->next;
      s->collect_remote();
      std::uint32_t n = s->count_alloc();
      if (n == 0) {
        unlink(s);
        s->next = dead;
        dead = s;
      } else if (which == list_full && n < s->nelems) {
        unlink(s);
        push(s, list_partial, false);
      }
      s = nxt;
    }
  }
  lock.unlock();
  std::size_t freed = 0;
  while (dead != nullptr) {
    mspan* nxt = dead->next;
    freed += dead->npages * page_size;
    heap_free_span(dead);
    dead = nxt;
  }
  return freed;
}

}  // namespace gort::malloc
