// sema: see sema.hpp. Invariants: a waiter is on its root's list exactly while nwait counts
// it; a release that finds no waiter leaves its ticket in *addr for the next acquire.
#include "sync/sema.hpp"

#include "os/lock.hpp"
#include "sched/sched.hpp"

namespace gort::rt {
namespace {

struct sema_waiter {
  std::atomic<uint32_t>* addr;
  g* gp;             // the parked goroutine, or null for a plain thread
  os::note wake;     // plain threads sleep here
  bool ticket = false;
  sema_waiter* next = nullptr;
};

struct alignas(64) sema_root {
  os::rt_mutex lock;
  sema_waiter* head = nullptr;
  sema_waiter* tail = nullptr;
  std::atomic<uint32_t> nwait{0};
};

constexpr size_t kSemTabSize = 251;
sema_root semtable[kSemTabSize];

sema_root& root_of(std::atomic<uint32_t>* addr) {
  return semtable[(reinterpret_cast<uintptr_t>(addr) >> 3) % kSemTabSize];
}

bool cansemacquire(std::atomic<uint32_t>* addr) {
  uint32_t v = addr->load(std::memory_order_acquire);
  while (v > 0) {
    if (addr->compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void enqueue(sema_root& r, sema_waiter* w) {
  if (r.tail != nullptr)
    r.tail->next = w;
  else
    r.head = w;
  r.tail = w;
}

sema_waiter* dequeue(sema_root& r, std::atomic<uint32_t>* addr) {
  sema_waiter* prev = nullptr;
  for (sema_waiter* w = r.head; w != nullptr; prev = w, w = w->next) {
    if (w->addr != addr) continue;
    if (prev != nullptr)
      prev->next = w->next;
    else
      r.head = w->next;
    if (r.tail == w) r.tail = prev;
    w->next = nullptr;
    return w;
  }
  return nullptr;
}

// Waiters left by goroutines of a finished run would be woken by a later run that
// reuses the address: drop them.
void drop_zombie_waiters() {
  for (auto& r : semtable) {
    os::rt_lock_guard lk(r.lock);
    sema_waiter** link = &r.head;
    r.tail = nullptr;
    while (*link != nullptr) {
      sema_waiter* w = *link;
      if (w->gp != nullptr && w->gp->status.load() == gstatus::zombie) {
        *link = w->next;
        r.nwait.fetch_sub(1);
      } else {
        r.tail = w;
        link = &w->next;
      }
    }
  }
}

[[maybe_unused]] const bool registered = (on_run_end(drop_zombie_waiters), true);

}  // namespace

void semacquire(std::atomic<uint32_t>* addr) {
  if (cansemacquire(addr)) return;
  sema_root& r = root_of(addr);
  sema_waiter w{addr, current_g(), {}, false, nullptr};
  for (;;) {
    r.nwait.fetch_add(1, std::memory_order_seq_cst);
    r.lock.lock();
    if (cansemacquire(addr)) {
      r.nwait.fetch_sub(1, std::memory_order_relaxed);
      r.lock.unlock();
      return;
    }
    enqueue(r, &w);
    if (w.gp != nullptr) {
      goparkunlock(&r.lock, wait_reason::semacquire);
    } else {
      r.lock.unlock();
      w.wake.sleep();
      w.wake.clear();
    }
    if (w.ticket || cansemacquire(addr)) return;
  }
}

void semrelease(std::atomic<uint32_t>* addr, bool handoff) {
  addr->fetch_add(1, std::memory_order_release);
  sema_root& r = root_of(addr);
  if (r.nwait.load(std::memory_order_seq_cst) == 0) return;
  r.lock.lock();
  if (r.nwait.load(std::memory_order_relaxed) == 0) {
    r.lock.unlock();
    return;
  }
  sema_waiter* w = dequeue(r, addr);
  if (w != nullptr) r.nwait.fetch_sub(1, std::memory_order_relaxed);
  r.lock.unlock();
  if (w == nullptr) return;
  if (handoff && cansemacquire(addr)) w->ticket = true;
  if (w->gp != nullptr)
    goready(w->gp);
  else
    w->wake.wakeup();
}

}  // namespace gort::rt
