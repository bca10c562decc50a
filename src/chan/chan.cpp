// chan: channel send, receive and close (Go 1.19: chansend, chanrecv, closechan and their
// helpers in chan.go). See chan.hpp for the structures and their invariants.
//
// The order of checks follows Go exactly:
//  send:    nil -> park forever; non-blocking and obviously full -> fail without the lock;
//           lock; closed -> panic; a waiting receiver -> hand the value straight to it;
//           room in the buffer -> buffer it; non-blocking -> fail; else queue and park.
//  receive: nil -> park forever; non-blocking and obviously empty -> fail (or report
//           closed) without the lock; lock; closed and empty -> (zero, false); a waiting
//           sender -> take its value (unbuffered) or the buffer's head, refilling the
//           freed slot from the sender (buffered, so FIFO order holds); buffered value ->
//           take it; non-blocking -> fail; else queue and park.
//  close:   nil or closed -> panic; mark closed; dequeue every receiver (ok = false) and
//           every sender (which will panic); unlock; then wake them all.
// Wake-ups happen after the lock is released and go to the waker's runnext (goready).
// An hchan and its buffer are one object of gort's allocator (malloc/), as in Go.
#include "chan/chan.hpp"

#include <new>

#include "gort/errors.hpp"
#include "gort/select.hpp"
#include "malloc/malloc.hpp"
#include "sched/sched.hpp"

namespace gort::rt {

// ---- Wait queues (Go: waitq.enqueue/dequeue, dequeueSudoG). ----

void waitq::enqueue(sudog* sg) {
  sg->next = nullptr;
  sudog* x = last;
  if (x == nullptr) {
    sg->prev = nullptr;
    first.store(sg, std::memory_order_relaxed);
    last = sg;
    return;
  }
  sg->prev = x;
  x->next = sg;
  last = sg;
}

sudog* waitq::dequeue() {
  for (;;) {
    sudog* sg = first.load(std::memory_order_relaxed);
    if (sg == nullptr) return nullptr;
    sudog* y = sg->next;
    if (y == nullptr) {
      first.store(nullptr, std::memory_order_relaxed);
      last = nullptr;
    } else {
      y->prev = nullptr;
      first.store(y, std::memory_order_relaxed);
      sg->next = nullptr;  // marks it removed (see dequeue_sudog)
    }
    // A goroutine of a gort::run that has ended never runs again: drop its waiters.
    g* gp = sg->w->gp;
    if (gp != nullptr && gp->status.load(std::memory_order_relaxed) == gstatus::zombie) continue;
    // A select's other case may have won already: then this sudog is left for its
    // goroutine to clean up.
    if (sg->is_select) {
      uint32_t zero = 0;
      if (!sg->w->select_done.compare_exchange_strong(zero, 1, std::memory_order_acq_rel))
        continue;
    }
    return sg;
  }
}

void waitq::dequeue_sudog(sudog* sg) {
  sudog* x = sg->prev;
  sudog* y = sg->next;
  if (x != nullptr) {
    if (y != nullptr) {  // middle of the queue
      x->next = y;
      y->prev = x;
      sg->next = nullptr;
      sg->prev = nullptr;
      return;
    }
    x->next = nullptr;  // end of the queue
    last = x;
    sg->prev = nullptr;
    return;
  }
  if (y != nullptr) {  // start of the queue
    y->prev = nullptr;
    first.store(y, std::memory_order_relaxed);
    sg->next = nullptr;
    return;
  }
  // x == y == null: sg is the only element, or it was removed already.
  if (first.load(std::memory_order_relaxed) == sg) {
    first.store(nullptr, std::memory_order_relaxed);
    last = nullptr;
  }
}

// ---- Parking and waking. ----

void ready_waiter(waiter* w) {
  if (w->gp == nullptr)
    w->note.wakeup();
  else
    goready(w->gp);
}

void waiter::park(bool (*commit)(g*, void*), void* arg, wait_reason reason) {
  parking.store(1, std::memory_order_relaxed);
  gopark(commit, arg, reason);
  int steps = 0;
  while (parking.load(std::memory_order_acquire) != 0) os::spin_then_yield(steps);
}

namespace {

struct chan_park {
  waiter* w;
  os::light_rt_mutex* lock;
};

// gopark's unlockf for a plain channel operation (Go: chanparkcommit).
bool chan_park_commit(g*, void* arg) {
  auto* p = static_cast<chan_park*>(arg);  // on the parked goroutine's stack until end_park
  p->lock->unlock();
  p->w->end_park();
  return true;
}

}  // namespace

void park_waiter(waiter* w, os::light_rt_mutex* lock, wait_reason reason) {
  if (w->gp != nullptr) {
    chan_park p{w, lock};
    w->park(chan_park_commit, &p, reason);
  } else {
    lock->unlock();  // this thread holds a handle to the channel until it returns
    w->note.sleep();
  }
}

namespace {

// Queues a sudog for ep on q and parks until a peer or close completes it (c->lock held;
// released by the park). Returns whether the operation succeeded (false: the channel was
// closed under us).
bool park_on(hchan* c, waitq& q, void* ep, wait_reason reason) {
  waiter w;
  w.gp = current_g();
  sudog sg;
  sg.w = &w;
  sg.elem = ep;
  sg.c = c;
  sg.is_select = false;
  sg.success = false;
  q.enqueue(&sg);
  park_waiter(&w, &c->lock, reason);
  return sg.success;
}

}  // namespace

namespace {

[[noreturn]] void park_forever(wait_reason reason) {
  if (current_g() != nullptr) {
    gopark(nullptr, nullptr, reason);
  } else {
    os::note never;
    for (;;) never.sleep();
  }
  __builtin_trap();  // nobody readies it
}

void unlock_chan(void* c) { static_cast<hchan*>(c)->lock.unlock(); }

// Lock-free checks for the non-blocking fast paths (Go: full, empty). dataqsiz is
// immutable; the rest may be stale, which the callers' reasoning allows (see Go).
inline bool full(const hchan* c) {
  if (c->dataqsiz == 0) return c->recvq.first.load(std::memory_order_relaxed) == nullptr;
  return c->qcount.load(std::memory_order_relaxed) == c->dataqsiz;
}
inline bool empty(const hchan* c) {
  if (c->dataqsiz == 0) return c->sendq.first.load(std::memory_order_seq_cst) == nullptr;
  return c->qcount.load(std::memory_order_seq_cst) == 0;
}

inline void inc_wrap(uint64_t& i, uint64_t n) {
  if (++i == n) i = 0;
}

// Only under c->lock; atomics only for the lock-free readers.
inline void add_qcount(hchan* c, int64_t d) {
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) + uint64_t(d),
                  std::memory_order_relaxed);
}

}  // namespace

[[noreturn]] void throw_send_on_closed() { throw runtime_error("send on closed channel"); }

void send_to_receiver(hchan* c, sudog* sg, void* ep, void (*unlock)(void*), void* arg) {
  if (sg->elem != nullptr) elem_move(c, sg->elem, ep);
  waiter* w = sg->w;
  sg->success = true;
  w->param = sg;
  unlock(arg);
  ready_waiter(w);
}

void recv_from_sender(hchan* c, sudog* sg, void* ep, void (*unlock)(void*), void* arg) {
  if (c->dataqsiz == 0) {
    if (ep != nullptr) elem_move(c, ep, sg->elem);
  } else {
    // The buffer is full: take its head, and put the sender's value in the freed slot,
    // which is the tail (FIFO order holds).
    char* qp = c->slot(c->recvx);
    elem_take(c, ep, qp);
    elem_move(c, qp, sg->elem);
    inc_wrap(c->recvx, c->dataqsiz);
    c->sendx = c->recvx;
  }
  waiter* w = sg->w;
  sg->success = true;
  w->param = sg;
  unlock(arg);
  ready_waiter(w);
}

// ---- make, len, cap, references. ----

hchan* makechan(const chantype* t, int64_t size) {
  constexpr uint64_t kMaxAlloc = uint64_t(1) << 47;
  if (size < 0 || (t->size != 0 && uint64_t(size) > kMaxAlloc / t->size))
    throw runtime_error("makechan: size out of range");
  size_t align = t->align > alignof(hchan) ? t->align : alignof(hchan);
  size_t header = (sizeof(hchan) + align - 1) & ~(align - 1);
  size_t bytes = header + size_t(size) * t->size;
  void* mem = malloc::malloc_aligned(bytes, align, false);  // Go: mallocgc
  if (mem == nullptr) throw std::bad_alloc();
  auto* c = new (mem) hchan;
  c->dataqsiz = uint64_t(size);
  c->elemtype = t;
  c->elemsize = t->size;
  c->buf = static_cast<char*>(mem) + header;
  return c;
}

void chanretain(hchan* c) { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chanrelease(hchan* c) {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // The last handle: destroy what is still buffered.
  if (c->elemtype->destroy != nullptr) {
    uint64_t i = c->recvx;
    for (uint64_t n = c->qcount.load(std::memory_order_relaxed); n > 0; n--) {
      elem_destroy(c, c->slot(i));
      inc_wrap(i, c->dataqsiz);
    }
  }
  c->~hchan();
  malloc::freegc(c);
}

int64_t chanlen(const hchan* c) {
  return c == nullptr ? 0 : int64_t(c->qcount.load(std::memory_order_relaxed));
}
int64_t chancap(const hchan* c) { return c == nullptr ? 0 : int64_t(c->dataqsiz); }

// ---- Send. ----

bool chansend(hchan* c, void* ep, bool block) {
  if (c == nullptr) {
    if (!block) return false;
    park_forever(wait_reason::chan_send_nil_chan);
  }
  // Fast fail: open, but no receiver and no room (see Go's comment on why two separate
  // observations suffice).
  if (!block && c->closed.load(std::memory_order_relaxed) == 0 && full(c)) {
    check_preempt();
    return false;
  }

  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed) != 0) {
    c->lock.unlock();
    throw_send_on_closed();
  }
  if (sudog* sg = c->recvq.dequeue()) {
    send_to_receiver(c, sg, ep, unlock_chan, c);
    check_preempt();
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) < c->dataqsiz) {
    elem_move(c, c->slot(c->sendx), ep);
    inc_wrap(c->sendx, c->dataqsiz);
    add_qcount(c, 1);
    c->lock.unlock();
    check_preempt();
    return true;
  }
  if (!block) {
    c->lock.unlock();
    check_preempt();
    return false;
  }

  // Block: a receiver (or close) completes the operation for us.
  if (!park_on(c, c->sendq, ep, wait_reason::chan_send)) throw_send_on_closed();
  return true;
}

// ---- Receive. ----

bool chanrecv(hchan* c, void* ep, bool block, bool* received) {
  *received = false;
  if (c == nullptr) {
    if (!block) return false;
    park_forever(wait_reason::chan_receive_nil_chan);
  }
  if (!block && empty(c)) {
    // Empty, then open: it was open and empty at the first observation.
    if (c->closed.load(std::memory_order_seq_cst) == 0) {
      check_preempt();
      return false;
    }
    // Closed for good; a value may have arrived between the two loads.
    if (empty(c)) return true;
  }

  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed) != 0) {
    if (c->qcount.load(std::memory_order_relaxed) == 0) {
      c->lock.unlock();
      return true;
    }
    // Closed, but values remain buffered: deliver them first.
  } else if (sudog* sg = c->sendq.dequeue()) {
    recv_from_sender(c, sg, ep, unlock_chan, c);
    *received = true;
    check_preempt();
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) > 0) {
    elem_take(c, ep, c->slot(c->recvx));
    inc_wrap(c->recvx, c->dataqsiz);
    add_qcount(c, -1);
    c->lock.unlock();
    *received = true;
    check_preempt();
    return true;
  }
  if (!block) {
    c->lock.unlock();
    check_preempt();
    return false;
  }

  // Block: a sender (or close) completes the operation for us.
  *received = park_on(c, c->recvq, ep, wait_reason::chan_receive);
  return true;
}

// ---- Close. ----

void closechan(hchan* c) {
  if (c == nullptr) throw runtime_error("close of nil channel");
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed) != 0) {
    c->lock.unlock();
    throw runtime_error("close of closed channel");
  }
  c->closed.store(1, std::memory_order_seq_cst);

  // Collect every waiter, receivers first, in queue order; wake them after unlocking.
  sudog* head = nullptr;
  sudog** tail = &head;
  for (waitq* q : {&c->recvq, &c->sendq}) {
    while (sudog* sg = q->dequeue()) {
      sg->success = false;  // receivers: no value (the zero value); senders: panic
      sg->w->param = sg;
      sg->readylink = nullptr;
      *tail = sg;
      tail = &sg->readylink;
    }
  }
  c->lock.unlock();
  while (head != nullptr) {
    sudog* next = head->readylink;  // read before the waiter may run and pop its stack
    ready_waiter(head->w);
    head = next;
  }
}

// ---- select {} ----

void block_forever() { park_forever(wait_reason::select_no_cases); }

}  // namespace gort::rt
