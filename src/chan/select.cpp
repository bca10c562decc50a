// select: Go 1.19's selectgo (select.go), for gort::select (include/gort/select.hpp).
//
//  1. pollorder: a uniform random permutation of the cases (inside-out Fisher-Yates with
//     fastrand), skipping nil channels. This is the only source of fairness.
//  2. lockorder: the cases sorted by channel address. Channels are locked in that order,
//     each once even when several cases use it, and unlocked in reverse.
//  3. Pass 1, in pollorder: the first case that can proceed now wins. A receive checks a
//     waiting sender, then buffered data, then closed (zero value, ok = false); a send
//     checks closed (panic), then a waiting receiver, then room in the buffer.
//  4. Nothing ready: with a default, unlock and return -1.
//  5. Pass 2: queue one sudog per case (all on this stack) on its channel, in lockorder,
//     and park; the channels are unlocked only once the goroutine is switched out.
//  6. A waker dequeues one of the sudogs and must win the CAS on waiter.select_done; it
//     completes that operation and records the sudog in waiter.param.
//  7. Woken, lock everything again; the winner is waiter.param; unlink the other sudogs
//     (some may already have been dropped by losing wakers).
//  8. A send woken by close panics; a receive reports ok = success.
// From a plain thread the same steps run, with the thread sleeping on the waiter's note.
#include <memory>
#include <type_traits>

#include "chan/chan.hpp"
#include "gort/errors.hpp"
#include "gort/mem.hpp"
#include "gort/select.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"

namespace gort::rt {
namespace {

constexpr int kInlineCases = 8;

inline uint32_t fastrandn(uint32_t n) { return uint32_t((uint64_t(fastrand()) * n) >> 32); }

struct sel {
  scase* cases;
  uint16_t* lockorder;
  int n;
  waiter* w = nullptr;  // set for a park: its commit ends the park (waiter::parking)
};

void sellock(const sel& s) {
  hchan* c = nullptr;
  for (int i = 0; i < s.n; i++) {
    hchan* c0 = s.cases[s.lockorder[i]].c;
    if (c0 != c) {
      c = c0;
      c->lock.lock();
    }
  }
}

// Unlocks in reverse lockorder. The channels and the select's stack stay alive until this
// returns, also in a park's commit: a goroutine woken meanwhile waits for the commit to end
// (waiter::parking) before it goes on and drops its handles.
void selunlock(scase* cases, uint16_t* lockorder, int n) {
  for (int i = n - 1; i >= 0; i--) {
    hchan* c = cases[lockorder[i]].c;
    if (i > 0 && c == cases[lockorder[i - 1]].c) continue;  // unlocked at i-1
    c->lock.unlock();
  }
}

void selunlock_cb(void* arg) {
  auto* s = static_cast<sel*>(arg);
  selunlock(s->cases, s->lockorder, s->n);
}

// gopark's unlockf (Go: selparkcommit): runs after the goroutine is switched out.
bool selparkcommit(g*, void* arg) {
  auto* s = static_cast<sel*>(arg);
  selunlock(s->cases, s->lockorder, s->n);
  s->w->end_park();
  return true;
}

inline uintptr_t key(const scase* cases, uint16_t i) {
  return reinterpret_cast<uintptr_t>(cases[i].c);
}

// Sorts order[0..n) by channel address: insertion sort for the usual few cases, Go's heap
// sort (n log n, no extra space) beyond.
void sort_lockorder(const scase* cases, const uint16_t* pollorder, uint16_t* lockorder, int n) {
  if (n <= 16) {
    for (int i = 0; i < n; i++) {
      uint16_t o = pollorder[i];
      uintptr_t k = key(cases, o);
      int j = i;
      while (j > 0 && key(cases, lockorder[j - 1]) > k) {
        lockorder[j] = lockorder[j - 1];
        j--;
      }
      lockorder[j] = o;
    }
    return;
  }
  for (int i = 0; i < n; i++) {
    int j = i;
    uintptr_t c = key(cases, pollorder[i]);
    while (j > 0 && key(cases, lockorder[(j - 1) / 2]) < c) {
      int k = (j - 1) / 2;
      lockorder[j] = lockorder[k];
      j = k;
    }
    lockorder[j] = pollorder[i];
  }
  for (int i = n - 1; i >= 0; i--) {
    uint16_t o = lockorder[i];
    uintptr_t c = key(cases, o);
    lockorder[i] = lockorder[0];
    int j = 0;
    for (;;) {
      int k = j * 2 + 1;
      if (k >= i) break;
      if (k + 1 < i && key(cases, lockorder[k]) < key(cases, lockorder[k + 1])) k++;
      if (c < key(cases, lockorder[k])) {
        lockorder[j] = lockorder[k];
        j = k;
        continue;
      }
      break;
    }
    lockorder[j] = o;
  }
}

inline void inc_wrap(uint64_t& i, uint64_t n) {
  if (++i == n) i = 0;
}

inline void add_qcount(hchan* c, int64_t d) {
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) + uint64_t(d),
                  std::memory_order_relaxed);
}

[[noreturn]] void park_forever_select() {
  if (current_g() != nullptr) gopark(nullptr, nullptr, wait_reason::select);
  os::note never;
  for (;;) never.sleep();
}

}  // namespace

// Frees the order and sudog arrays of a select with more than kInlineCases cases.
struct mem_free {
  void operator()(void* p) const noexcept { gort::mem::free(p); }
};

int selectgo(scase* cases, int ncases, bool block, bool* recv_ok) {
  *recv_ok = false;
  uint16_t order_inline[2 * kInlineCases];
  std::unique_ptr<uint16_t[], mem_free> order_heap;
  uint16_t* order = order_inline;
  if (ncases > kInlineCases) {
    order_heap.reset(static_cast<uint16_t*>(gort::mem::alloc_noscan(2 * sizeof(uint16_t) * size_t(ncases))));
    order = order_heap.get();
  }
  uint16_t* pollorder = order;
  uint16_t* lockorder = order + ncases;

  // 1. Random poll order, without the nil channels.
  int norder = 0;
  for (int i = 0; i < ncases; i++) {
    if (cases[i].c == nullptr) continue;
    uint32_t j = norder == 0 ? 0 : fastrandn(uint32_t(norder + 1));
    pollorder[norder] = pollorder[j];
    pollorder[j] = uint16_t(i);
    norder++;
  }
  if (norder == 0) {
    if (!block) {
      check_preempt();
      return -1;
    }
    park_forever_select();
  }

  // 2. Lock order.
  sort_lockorder(cases, pollorder, lockorder, norder);
  sel s{cases, lockorder, norder};
  sellock(s);

  // 3. Pass 1: something ready now?
  for (int i = 0; i < norder; i++) {
    int casi = pollorder[i];
    scase* k = &cases[casi];
    hchan* c = k->c;
    if (!k->send) {
      if (sudog* sg = c->sendq.dequeue()) {
        recv_from_sender(c, sg, k->elem, selunlock_cb, &s);
        *recv_ok = true;
        check_preempt();
        return casi;
      }
      if (c->qcount.load(std::memory_order_relaxed) > 0) {
        elem_take(c, k->elem, c->slot(c->recvx));
        inc_wrap(c->recvx, c->dataqsiz);
        add_qcount(c, -1);
        selunlock(cases, lockorder, norder);
        *recv_ok = true;
        check_preempt();
        return casi;
      }
      if (c->closed.load(std::memory_order_relaxed) != 0) {
        selunlock(cases, lockorder, norder);
        check_preempt();
        return casi;  // zero value, ok = false
      }
    } else {
      if (c->closed.load(std::memory_order_relaxed) != 0) {
        selunlock(cases, lockorder, norder);
        throw_send_on_closed();
      }
      if (sudog* sg = c->recvq.dequeue()) {
        send_to_receiver(c, sg, k->elem, selunlock_cb, &s);
        check_preempt();
        return casi;
      }
      if (c->qcount.load(std::memory_order_relaxed) < c->dataqsiz) {
        elem_move(c, c->slot(c->sendx), k->elem);
        inc_wrap(c->sendx, c->dataqsiz);
        add_qcount(c, 1);
        selunlock(cases, lockorder, norder);
        check_preempt();
        return casi;
      }
    }
  }

  // 4. Nothing ready.
  if (!block) {
    selunlock(cases, lockorder, norder);
    check_preempt();
    return -1;
  }

  // 5. Pass 2: queue on every channel, in lock order, and park.
  waiter w;
  w.gp = current_g();
  sudog sg_inline[kInlineCases];
  std::unique_ptr<sudog[], mem_free> sg_heap;
  sudog* sgs = sg_inline;
  if (norder > kInlineCases) {
    static_assert(std::is_trivially_default_constructible_v<sudog> &&
                  std::is_trivially_destructible_v<sudog>);
    sg_heap.reset(static_cast<sudog*>(gort::mem::alloc(sizeof(sudog) * size_t(norder), alignof(sudog))));
    sgs = sg_heap.get();
  }
  for (int i = 0; i < norder; i++) {
    scase* k = &cases[lockorder[i]];
    sudog* sg = &sgs[i];
    sg->w = &w;
    sg->elem = k->elem;
    sg->c = k->c;
    sg->is_select = true;
    sg->success = false;
    if (k->send)
      k->c->sendq.enqueue(sg);
    else
      k->c->recvq.enqueue(sg);
  }
  if (w.gp != nullptr) {
    s.w = &w;
    w.park(selparkcommit, &s, wait_reason::select);
  } else {
    selunlock(cases, lockorder, norder);
    w.note.sleep();
  }

  // 7. Woken: find the winner, unlink the rest.
  sellock(s);
  sudog* winner = w.param;
  int casi = -1;
  for (int i = 0; i < norder; i++) {
    scase* k = &cases[lockorder[i]];
    if (&sgs[i] == winner) {
      casi = lockorder[i];
    } else if (k->send) {
      k->c->sendq.dequeue_sudog(&sgs[i]);
    } else {
      k->c->recvq.dequeue_sudog(&sgs[i]);
    }
  }
  selunlock(cases, lockorder, norder);
  if (casi < 0) fatal("selectgo: bad wakeup");

  // 8. Result.
  if (cases[casi].send) {
    if (!winner->success) throw_send_on_closed();
  } else {
    *recv_ok = winner->success;
  }
  return casi;
}

}  // namespace gort::rt
