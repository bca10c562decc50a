// chan: the runtime's channel structures (Go: hchan, waitq and sudog in chan.go and
// runtime2.go), shared by chan.cpp (send, receive, close) and select.cpp (selectgo).
//
//  hchan   one per channel: a ring buffer of dataqsiz elements (stored right after the
//          header, in the same allocation), the FIFO queues of blocked receivers (recvq)
//          and senders (sendq), and one lock, c->lock, that guards everything but the
//          refcount. qcount, closed and the queues' heads are atomics only so that the
//          lock-free fast paths (len, cap, and the failing non-blocking operations) may read
//          them; they change only under the lock.
//  sudog   one blocked operation on one channel: which waiter, where its value is (elem:
//          the sender's value, or the receiver's storage, usually on the blocked
//          goroutine's stack), and whether it completed (success). A plain send or receive
//          blocks with one sudog, a select with one per case; all live on the blocked
//          goroutine's (or thread's) stack, so nothing is allocated per operation.
//  waiter  the blocked goroutine (or plain thread) behind one or more sudogs: Go keeps
//          these fields in the g (param, selectDone); here they are per operation, so
//          that a plain thread, which has no g, can block the same way on its note.
//
// Invariants:
//  - A sudog is in at most one queue, and only while its operation is pending; whoever
//    dequeues it (under c->lock) completes it: copies the value, sets success and
//    waiter->param, and wakes the waiter once the lock is released.
//  - A select's sudogs are queued on every channel of the select; the first dequeuer to
//    win the CAS on waiter->select_done (0 -> 1) completes it, later ones drop the sudog
//    they dequeued. The selecting goroutine, once woken, re-locks all its channels and
//    unlinks its remaining sudogs (dequeue_sudog copes with ones already dropped).
//  - A blocked operation's stack (and so its sudogs and value) stays put until it is
//    woken: wakers touch a sudog only under its channel's lock or after winning it.
//  - Every unlock of c->lock returns before c can be freed: the unlocking thread holds a
//    handle, or it is a park's commit, which the woken goroutine waits for
//    (waiter::parking) before it goes on. c->lock's unlock reads the lock after its store.
//  - Element moves and destructors run under c->lock.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>

#include "gort/chan.hpp"
#include "os/lock.hpp"
#include "sched/runtime2.hpp"

namespace gort::rt {

struct sudog;

struct waiter {
  g* gp = nullptr;                       // the parked goroutine, or null for a plain thread
  std::atomic<uint32_t> select_done{0};  // Go: g.selectDone
  sudog* param = nullptr;                // the sudog that completed (Go: g.param)
  os::note note;                         // a plain thread sleeps here
  // 1 from a goroutine's park until the park's commit (on the thread that switched it out)
  // has unlocked its channels (Go: g.parkingOnChan). A waker may take a channel's lock as
  // soon as the commit's unlock stores, and ready the goroutine, which may then drop the
  // last handle; but the unlock still reads the lock after its store (os/lock.hpp), so the
  // woken goroutine waits for this to clear before it goes on (park).
  std::atomic<uint32_t> parking{0};

  // Parks the goroutine gp with commit(gp, arg) as gopark's unlockf; commit unlocks the
  // channels and calls end_park() last. Returns once the goroutine was woken and the commit
  // has ended (at once, nearly always: it ends a few instructions after the unlock that let
  // the waker in).
  void park(bool (*commit)(g*, void*), void* arg, wait_reason reason);
  // Called by the commit once it has unlocked everything: the waiter is not touched after.
  void end_park() { parking.store(0, std::memory_order_release); }
};

struct sudog {
  waiter* w;
  sudog* next;
  sudog* prev;
  void* elem;       // value to send / storage to receive into (null: discard)
  hchan* c;
  sudog* readylink;  // close's list of sudogs to wake
  bool is_select;
  bool success;     // the operation completed (false: woken by close)
};

struct waitq {
  std::atomic<sudog*> first{nullptr};
  sudog* last = nullptr;

  void enqueue(sudog* sg);
  // The first sudog whose operation this caller may complete, or null (Go: waitq.dequeue).
  sudog* dequeue();
  // Unlinks sg if it is still queued (Go: dequeueSudoG).
  void dequeue_sudog(sudog* sg);
};

struct hchan {
  std::atomic<int64_t> refs{1};
  std::atomic<uint64_t> qcount{0};  // values in buf
  uint64_t dataqsiz = 0;            // size of buf
  char* buf = nullptr;
  const chantype* elemtype = nullptr;
  uint32_t elemsize = 0;
  std::atomic<uint32_t> closed{0};
  uint64_t sendx = 0;
  uint64_t recvx = 0;
  waitq recvq;
  waitq sendq;
  os::light_rt_mutex lock;

  char* slot(uint64_t i) const { return buf + i * elemsize; }
};

// ---- Element moves (Go: typedmemmove). ----

inline void copy_bytes(void* dst, const void* src, uint32_t n) {
  switch (n) {
    case 0: return;
    case 1: std::memcpy(dst, src, 1); return;
    case 2: std::memcpy(dst, src, 2); return;
    case 4: std::memcpy(dst, src, 4); return;
    case 8: std::memcpy(dst, src, 8); return;
    case 16: std::memcpy(dst, src, 16); return;
    default: std::memcpy(dst, src, n); return;
  }
}

// Constructs *dst from *src (which stays alive, moved from).
inline void elem_move(const hchan* c, void* dst, void* src) {
  if (c->elemtype->move != nullptr)
    c->elemtype->move(dst, src);
  else
    copy_bytes(dst, src, c->elemsize);
}
inline void elem_destroy(const hchan* c, void* p) {
  if (c->elemtype->destroy != nullptr) c->elemtype->destroy(p);
}
// Moves *src into *dst (or drops it when dst is null) and ends *src.
inline void elem_take(const hchan* c, void* dst, void* src) {
  if (dst != nullptr) elem_move(c, dst, src);
  elem_destroy(c, src);
}


// Wakes the waiter of a completed sudog (Go: goready(sg.g)); a goroutine goes to the
// runnext of the caller's P.
void ready_waiter(waiter* w);
// Releases lock and blocks the current goroutine (or thread) until its waiter is woken and
// the park has ended (waiter::parking).
void park_waiter(waiter* w, os::light_rt_mutex* lock, wait_reason reason);

// Completes a receive by sg on c, which is locked and has sg dequeued from sendq: takes
// the value into ep, unlocks c with unlock(arg), and wakes the sender. (Go: recv)
void recv_from_sender(hchan* c, sudog* sg, void* ep, void (*unlock)(void*), void* arg);
// Completes a send of ep to sg, dequeued from c's recvq; same protocol. (Go: send)
void send_to_receiver(hchan* c, sudog* sg, void* ep, void (*unlock)(void*), void* arg);

[[noreturn]] void throw_send_on_closed();

}  // namespace gort::rt
