// runq: local and global run queues. See runq.hpp for the invariants.
#include "sched/runq.hpp"

#include <unistd.h>

#include <cstdlib>

#include "sched/fatal.hpp"

namespace gort::rt {
namespace {

constexpr uint32_t kRunqMask = p::kRunqSize - 1;

// runqsize changes only under sched.lock; others read it without the lock.
void add_runqsize(int32_t n) {
  sched.runqsize.store(sched.runqsize.load(std::memory_order_relaxed) + n,
                       std::memory_order_relaxed);
}

// Moves half of pp's full ring plus gp to the global queue. False if a thief raced us.
bool runqputslow(p* pp, g* gp, uint32_t h, uint32_t t) {
  g* batch[p::kRunqSize / 2 + 1];
  uint32_t n = (t - h) / 2;
  for (uint32_t i = 0; i < n; i++)
    batch[i] = pp->runq[(h + i) & kRunqMask].load(std::memory_order_relaxed);
  if (!pp->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release,
                                            std::memory_order_relaxed))
    return false;
  batch[n] = gp;
  os::rt_lock_guard lk(sched.lock);
  globrunqputarray(batch, n + 1);
  return true;
}

// Copies half of pp2's queue into batch[batch_head..] (a ring of 256). Returns how many.
uint32_t runqgrab(p* pp2, std::atomic<g*>* batch, uint32_t batch_head, bool steal_runnext) {
  for (;;) {
    uint32_t h = pp2->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp2->runqtail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        g* next = pp2->runnext.load(std::memory_order_acquire);
        if (next != nullptr) {
          // The victim is probably about to schedule it; give it a moment (Go: usleep(3)).
          if (pp2->status.load(std::memory_order_relaxed) == pstatus::running) usleep(3);
          if (!pp2->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel))
            continue;
          batch[batch_head & kRunqMask].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > p::kRunqSize / 2) continue;  // read an inconsistent h and t
    for (uint32_t i = 0; i < n; i++) {
      g* gp = pp2->runq[(h + i) & kRunqMask].load(std::memory_order_relaxed);
      batch[(batch_head + i) & kRunqMask].store(gp, std::memory_order_relaxed);
    }
    if (pp2->runqhead.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
      return n;
  }
}

}  // namespace

void runqput(p* pp, g* gp, bool next) {
  if (next) {
    g* old = pp->runnext.load(std::memory_order_relaxed);
    while (!pp->runnext.compare_exchange_weak(old, gp, std::memory_order_acq_rel)) {
    }
    if (old == nullptr) return;
    gp = old;  // kick the old runnext to the regular queue
  }
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t - h < p::kRunqSize) {
      pp->runq[t & kRunqMask].store(gp, std::memory_order_relaxed);
      pp->runqtail.store(t + 1, std::memory_order_release);
      return;
    }
    if (runqputslow(pp, gp, h, t)) return;
  }
}

g* runqget(p* pp, bool* inherit) {
  g* next = pp->runnext.load(std::memory_order_relaxed);
  if (next != nullptr &&
      pp->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    *inherit = true;
    return next;
  }
  *inherit = false;
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    g* gp = pp->runq[h & kRunqMask].load(std::memory_order_relaxed);
    if (pp->runqhead.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                           std::memory_order_relaxed))
      return gp;
  }
}

bool runqempty(p* pp) {
  // Read head, tail, runnext, then tail again, so that a g moving from runnext into the
  // ring between our reads is not missed (Go: runqempty).
  for (;;) {
    uint32_t head = pp->runqhead.load(std::memory_order_acquire);
    uint32_t tail = pp->runqtail.load(std::memory_order_acquire);
    g* next = pp->runnext.load(std::memory_order_acquire);
    if (tail == pp->runqtail.load(std::memory_order_acquire))
      return head == tail && next == nullptr;
  }
}

uint32_t runqlen(p* pp) {
  uint32_t h = pp->runqhead.load(std::memory_order_acquire);
  uint32_t t = pp->runqtail.load(std::memory_order_acquire);
  return (t - h) + (pp->runnext.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
}

g* runqsteal(p* pp, p* p2, bool steal_runnext) {
  uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
  uint32_t n = runqgrab(p2, pp->runq, t, steal_runnext);
  if (n == 0) return nullptr;
  n--;
  g* gp = pp->runq[(t + n) & kRunqMask].load(std::memory_order_relaxed);
  if (n == 0) return gp;
  pp->runqtail.store(t + n, std::memory_order_release);
  return gp;
}

namespace {

// Room for n more in the global ring (sched.lock held).
[[gnu::noinline]] void globrunq_grow(uint32_t n) {
  uint32_t size = sched.runq_tail - sched.runq_head;
  uint64_t want = uint64_t(sched.runq_mask) + 1;
  while (want < size + uint64_t(n)) want *= 2;
  if (want > (uint64_t{1} << 31)) fatal("global run queue: too many runnable goroutines");
  auto** buf = static_cast<g**>(std::malloc(want * sizeof(g*)));
  if (buf == nullptr) fatal("out of memory growing the global run queue");
  for (uint32_t i = 0; i < size; i++) buf[i] = sched.runq_buf[(sched.runq_head + i) & sched.runq_mask];
  if (sched.runq_buf != sched.runq_initial) std::free(sched.runq_buf);
  sched.runq_buf = buf;
  sched.runq_mask = uint32_t(want - 1);
  sched.runq_head = 0;
  sched.runq_tail = size;
}

inline void globrunq_reserve(uint32_t n) {
  if (uint64_t(sched.runq_tail - sched.runq_head) + n > uint64_t(sched.runq_mask) + 1) globrunq_grow(n);
}

g*& globrunq_slot(uint32_t pos) { return sched.runq_buf[pos & sched.runq_mask]; }

}  // namespace

void globrunqput(g* gp) {
  globrunq_reserve(1);
  globrunq_slot(sched.runq_tail++) = gp;
  add_runqsize(1);
}

void globrunqputhead(g* gp) {
  globrunq_reserve(1);
  globrunq_slot(--sched.runq_head) = gp;
  add_runqsize(1);
}

void globrunqputbatch(g* head, int32_t n) {
  globrunq_reserve(uint32_t(n));
  g* gp = head;
  for (int32_t i = 0; i < n; i++, gp = gp->schedlink) globrunq_slot(sched.runq_tail++) = gp;
  add_runqsize(n);
}

void globrunqputarray(g* const* gs, uint32_t n) {
  globrunq_reserve(n);
  for (uint32_t i = 0; i < n; i++) globrunq_slot(sched.runq_tail++) = gs[i];
  add_runqsize(int32_t(n));
}

g* globrunqget(p* pp, int32_t max) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  int32_t n = procs == 1 ? size : size / procs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > int32_t(p::kRunqSize / 2)) n = p::kRunqSize / 2;
  add_runqsize(-n);

  g* gp = globrunq_slot(sched.runq_head++);
  for (n--; n > 0; n--) runqput(pp, globrunq_slot(sched.runq_head++), false);
  return gp;
}

}  // namespace gort::rt
