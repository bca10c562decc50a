// sema: see sema.hpp. Invariants, under the root's lock: the root's address list holds
// exactly one head waiter per address with waiters, each head keeps the tail of its
// address's FIFO, and nwait counts every queued waiter of the root. A release that finds no
// waiter leaves its ticket in *addr for the next acquire.
#include "sync/sema.hpp"

#include "os/lock.hpp"
#include "sched/fork.hpp"
#include "sched/sched.hpp"

namespace gort::rt {
namespace {

struct sema_waiter {
  std::atomic<uint32_t>* addr;
  g* gp;                            // the parked goroutine, or null for a plain thread
  os::note wake;                    // plain threads sleep here
  bool ticket = false;              // woken by a hand-off: the semaphore is ours
  sema_waiter* next = nullptr;      // next waiter on the same address
  sema_waiter* next_addr = nullptr; // on a head: the head of the root's next address
  sema_waiter* tail = nullptr;      // on a head: the last waiter on this address
};

struct alignas(64) sema_root {
  os::light_rt_mutex lock;
  sema_waiter* addrs = nullptr;  // one head waiter per address
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

// The link that points at addr's head waiter (or at the null ending the list).
sema_waiter** find_head(sema_root& r, std::atomic<uint32_t>* addr) {
  sema_waiter** link = &r.addrs;
  while (*link != nullptr && (*link)->addr != addr) link = &(*link)->next_addr;
  return link;
}

void enqueue(sema_root& r, sema_waiter* w, bool lifo) {
  sema_waiter** link = find_head(r, w->addr);
  sema_waiter* head = *link;
  w->next = nullptr;
  if (head == nullptr) {
    w->next_addr = nullptr;
    w->tail = w;
    *link = w;
  } else if (lifo) {  // w becomes the head
    w->next = head;
    w->tail = head->tail;
    w->next_addr = head->next_addr;
    *link = w;
  } else {
    head->tail->next = w;
    head->tail = w;
  }
}

sema_waiter* dequeue(sema_root& r, std::atomic<uint32_t>* addr) {
  sema_waiter** link = find_head(r, addr);
  sema_waiter* head = *link;
  if (head == nullptr) return nullptr;
  if (sema_waiter* n = head->next; n != nullptr) {
    n->tail = head->tail;
    n->next_addr = head->next_addr;
    *link = n;
  } else {
    *link = head->next_addr;
  }
  head->next = head->next_addr = head->tail = nullptr;
  return head;
}

bool is_zombie(const sema_waiter* w) {
  return w->gp != nullptr && w->gp->status.load() == gstatus::zombie;
}

// Waiters left by goroutines of a finished run would be woken by a later run that
// reuses the address: drop them.
void drop_zombie_waiters() {
  for (auto& r : semtable) {
    os::rt_lock_guard lk(r.lock);
    sema_waiter* heads = r.addrs;
    r.addrs = nullptr;
    while (heads != nullptr) {
      sema_waiter* w = heads;
      heads = heads->next_addr;
      while (w != nullptr) {
        sema_waiter* next = w->next;
        if (is_zombie(w))
          r.nwait.fetch_sub(1);
        else
          enqueue(r, w, false);
        w = next;
      }
    }
  }
}

[[maybe_unused]] const bool registered = (on_run_end(drop_zombie_waiters), true);

}  // namespace

void semtable_lock_all() {
  for (sema_root& r : semtable) r.lock.lock();
}

void semtable_unlock_all() {
  for (sema_root& r : semtable) r.lock.unlock();
}

// Held across fork() (sched/fork.hpp): a root's lock nests outside sched.lock only.
[[maybe_unused]] const bool fork_registered = (on_fork(semtable_lock_all, semtable_unlock_all), true);

void semacquire(std::atomic<uint32_t>* addr, bool lifo, wait_reason reason) {
  if (cansemacquire(addr)) return;
  sema_root& r = root_of(addr);
  sema_waiter w{addr, current_g(), {}};
  for (;;) {
    // nwait before the re-check: a releaser that sees nwait == 0 has already made its
    // ticket visible to our cansemacquire.
    r.nwait.fetch_add(1, std::memory_order_seq_cst);
    r.lock.lock();
    if (cansemacquire(addr)) {
      r.nwait.fetch_sub(1, std::memory_order_relaxed);
      r.lock.unlock();
      return;
    }
    w.ticket = false;
    enqueue(r, &w, lifo);
    if (w.gp != nullptr) {
      goparkunlock(&r.lock, reason);
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
  bool handed = handoff && cansemacquire(addr);
  w->ticket = handed;
  if (w->gp != nullptr)
    goready(w->gp);
  else
    w->wake.wakeup();
  // The waiter sits in our runnext: give it the P now, and queue behind it.
  if (handed) goyield();
}

}  // namespace gort::rt
