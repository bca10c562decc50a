// runq: local and global run queues. See runq.hpp for the invariants.
#include "sched/runq.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "sched/fatal.hpp"

namespace gort::rt {
namespace {

constexpr uint32_t kRunqMask = p::kRunqSize - 1;

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

// Appends gp to pp's ring if it has room. Caller owns pp.
inline bool runq_push(p* pp, g* gp) {
  uint32_t h = pp->runqhead.load(std::memory_order_acquire);
  uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
  if (t - h >= p::kRunqSize) return false;
  pp->runq[t & kRunqMask].store(gp, std::memory_order_relaxed);
  pp->runqtail.store(t + 1, std::memory_order_release);
  return true;
}

// runqput with the ring full: spills half of it to the global queue, or, when a thief took
// some meanwhile, puts gp in the room it made. Out of line, so that runqput's own path
// saves no registers.
[[gnu::noinline]] void runqput_full(p* pp, g* gp) {
  for (;;) {
    uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t - h >= p::kRunqSize && runqputslow(pp, gp, h, t)) return;
    if (runq_push(pp, gp)) return;
  }
}

// runqput without next: gp goes to the tail of pp's ring.
inline void runqput_tail(p* pp, g* gp) {
  if (!runq_push(pp, gp)) [[unlikely]] runqput_full(pp, gp);
}

void runqput(p* pp, g* gp, bool next) {
  if (next) {
    g* old = pp->runnext.load(std::memory_order_relaxed);
    while (!pp->runnext.compare_exchange_weak(old, gp, std::memory_order_acq_rel)) {
    }
    if (old == nullptr) return;
    gp = old;  // kick the old runnext to the regular queue
  }
  runqput_tail(pp, gp);
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

void runqdrop(p* pp) {
  pp->runnext.store(nullptr, std::memory_order_relaxed);
  pp->runqhead.store(pp->runqtail.load(std::memory_order_relaxed), std::memory_order_release);
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

void g_ring::grow(uint32_t n) {
  uint64_t want = uint64_t(mask) + 1;
  while (want < size() + uint64_t(n)) want *= 2;
  if (want > (uint64_t{1} << 31)) fatal("global run queue: too many runnable goroutines");
  auto** nbuf = static_cast<g**>(std::malloc(want * sizeof(g*)));
  if (nbuf == nullptr) fatal("out of memory growing the global run queue");
  uint32_t count = size();
  for (uint32_t i = 0; i < count; i++) nbuf[i] = buf[(head + i) & mask];
  if (buf != initial) std::free(buf);
  buf = nbuf;
  mask = uint32_t(want - 1);
  head = 0;
  tail = count;
}

namespace {

// A goroutine that has not started and holds no stack has a null sp (proc.cpp: newproc
// attaches its stack on the first run). The caller owns gp: no other P can take it.
inline g_ring& ring_for(g* gp) { return gp->sp == nullptr ? sched.runq : sched.runq_woken; }

}  // namespace

void globrunqput(g* gp) {
  g_ring& r = ring_for(gp);
  r.reserve(1);
  r.push_back(gp);
  add_runqsize(1);
}

void globrunqputhead(g* gp) {
  g_ring& r = ring_for(gp);
  r.reserve(1);
  r.push_front(gp);
  add_runqsize(1);
}

void globrunqputbatch(g* head, int32_t n) {
  g* gp = head;
  for (int32_t i = 0; i < n; i++, gp = gp->schedlink) globrunqput(gp);
}

void globrunqputarray(g* const* gs, uint32_t n) {
  sched.runq.reserve(n);
  sched.runq_woken.reserve(n);
  for (uint32_t i = 0; i < n; i++) ring_for(gs[i]).push_back(gs[i]);
  add_runqsize(int32_t(n));
}

namespace {

// Woken goroutines first, but runq keeps a place in every batch: one in a batch of two
// or more, every other turn in a batch of one.

// A batch of one (every take on one P, where the two goroutines of a Gosched ping-pong
// take each other): no loop, no local queue, few registers.
g* globrunqget_one() {
  g_ring& woken = sched.runq_woken;
  g_ring& fifo = sched.runq;
  int32_t fifo_place = fifo.size() > 0 ? int32_t(sched.runq_turn ^= 1) : 0;
  return woken.size() > 0 && fifo_place == 0 ? woken.pop_front() : fifo.pop_front();
}

// A batch of n >= 2: the first is returned, the rest go to pp's local queue.
[[gnu::noinline]] g* globrunqget_batch(p* pp, int32_t n) {
  g_ring& woken = sched.runq_woken;
  g_ring& fifo = sched.runq;
  int32_t fifo_place = fifo.size() > 0 ? 1 : 0;
  int32_t from_woken = std::min<int32_t>(int32_t(woken.size()), n - fifo_place);
  int32_t from_fifo = n - from_woken;

  g* first = nullptr;
  auto hand_out = [&](g* gp) {
    if (first == nullptr)
      first = gp;
    else
      runqput_tail(pp, gp);
  };
  for (int32_t i = 0; i < from_woken; i++) hand_out(woken.pop_front());
  for (int32_t i = 0; i < from_fifo; i++) hand_out(fifo.pop_front());
  return first;
}

}  // namespace

g* globrunqget(p* pp, int32_t max) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  int32_t n = procs == 1 ? size : size / procs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > int32_t(p::kRunqSize / 2)) n = p::kRunqSize / 2;
  add_runqsize(-n);
  return n == 1 ? globrunqget_one() : globrunqget_batch(pp, n);
}

}  // namespace gort::rt
