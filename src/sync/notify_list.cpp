// notify_list: see notify_list.hpp.
#include "sync/notify_list.hpp"

#include "sched/sched.hpp"

namespace gort::rt {

struct notify_waiter {
  uint32_t ticket;
  g* gp;  // null for a plain thread, which sleeps on wake
  os::note wake;
  notify_waiter* next = nullptr;
};

namespace {
// a < b on the wrapping ticket counter.
bool ticket_less(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }

void wake(notify_waiter* w) {
  if (w->gp != nullptr)
    goready(w->gp);
  else
    w->wake.wakeup();
}
}  // namespace

uint32_t notify_list_add(notify_list* l) {
  return l->wait.fetch_add(1, std::memory_order_acq_rel);
}

void notify_list_wait(notify_list* l, uint32_t ticket) {
  l->lock.lock();
  if (ticket_less(ticket, l->notify.load(std::memory_order_relaxed))) {
    l->lock.unlock();  // already signalled
    return;
  }
  notify_waiter w{ticket, current_g(), {}};
  if (l->tail == nullptr)
    l->head = &w;
  else
    l->tail->next = &w;
  l->tail = &w;
  if (w.gp != nullptr) {
    goparkunlock(&l->lock, wait_reason::sync_cond_wait);
  } else {
    l->lock.unlock();
    w.wake.sleep();
  }
}

void notify_list_notify_all(notify_list* l) {
  if (l->wait.load(std::memory_order_acquire) == l->notify.load(std::memory_order_acquire))
    return;  // nobody took a ticket since the last notify
  l->lock.lock();
  notify_waiter* w = l->head;
  l->head = l->tail = nullptr;
  l->notify.store(l->wait.load(std::memory_order_acquire), std::memory_order_release);
  l->lock.unlock();
  while (w != nullptr) {
    notify_waiter* next = w->next;  // read before waking: w lives on the waiter's stack
    wake(w);
    w = next;
  }
}

void notify_list_notify_one(notify_list* l) {
  if (l->wait.load(std::memory_order_acquire) == l->notify.load(std::memory_order_acquire))
    return;
  l->lock.lock();
  uint32_t t = l->notify.load(std::memory_order_relaxed);
  if (t == l->wait.load(std::memory_order_acquire)) {
    l->lock.unlock();
    return;
  }
  l->notify.store(t + 1, std::memory_order_release);
  // Ticket t's holder may not have queued yet (it took the ticket, then unlocked the user's
  // lock); then it sees notify > t in notify_list_wait and does not block.
  notify_waiter* prev = nullptr;
  for (notify_waiter* w = l->head; w != nullptr; prev = w, w = w->next) {
    if (w->ticket != t) continue;
    notify_waiter* next = w->next;
    if (prev != nullptr)
      prev->next = next;
    else
      l->head = next;
    if (l->tail == w) l->tail = prev;
    l->lock.unlock();
    wake(w);
    return;
  }
  l->lock.unlock();
}

}  // namespace gort::rt
