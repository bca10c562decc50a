// poll_desc: Go's netpoll.go on gort's scheduler. See poll_desc.hpp for the slot states and
// invariants. The poller (sched/netpoll.cpp) calls pd_on_event for each epoll event; a
// goroutine parks in poll_wait with wait reason "IO wait" and is counted in
// netpoll_waiters while parked, so findrunnable polls and checkdead stays quiet.
#include "net/poll_desc.hpp"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vector>

#include "os/clock.hpp"
#include "sched/fatal.hpp"
#include "sched/fork.hpp"
#include "sched/sched.hpp"
#include "sched/stack_release.hpp"
#include "sched/timers.hpp"

namespace gort::rt {
namespace {

constexpr uintptr_t kReady = 1;
constexpr uintptr_t kWait = 2;

// ---- Plain-thread waiters: a thread blocks in ppoll on the descriptor and on its own
// eventfd, which close and deadline changes write to. Eventfds are pooled, never closed, so
// that a late wake-up only causes a spurious return on some other thread.
struct alignas(8) thread_waiter {
  int efd = -1;
  thread_waiter* next = nullptr;
};
os::light_rt_mutex tw_lock;
thread_waiter* tw_free = nullptr;

struct tw_holder {
  thread_waiter* w = nullptr;
  ~tw_holder() {
    if (w == nullptr) return;
    os::rt_lock_guard lk(tw_lock);
    w->next = tw_free;
    tw_free = w;
  }
};
thread_local tw_holder tls_waiter;

thread_waiter* my_waiter() {
  if (tls_waiter.w != nullptr) return tls_waiter.w;
  {
    os::rt_lock_guard lk(tw_lock);
    if (tw_free != nullptr) {
      tls_waiter.w = tw_free;
      tw_free = tw_free->next;
    }
  }
  if (tls_waiter.w == nullptr) {
    auto* w = new thread_waiter;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) fatal("netpoll: cannot create an eventfd for a thread waiter");
    tls_waiter.w = w;
  }
  return tls_waiter.w;
}

void drain(int efd) {
  uint64_t v;
  while (read(efd, &v, sizeof v) > 0) {
  }
}

bool is_thread(uintptr_t v) { return v > kWait && (v & 1) != 0; }

// ---- The pool of poll_descs (Go: pollcache). Never freed.
os::light_rt_mutex cache_lock;
poll_desc* cache_free = nullptr;
struct pd_block {
  poll_desc* first;
  size_t n;
};
std::vector<pd_block> blocks;  // every poll_desc ever made (under cache_lock)

// Calls f(pd) for every poll_desc ever made. cache_lock held, or the only thread.
template <class F>
void for_each_pd(F&& f) {
  for (const pd_block& b : blocks)
    for (size_t i = 0; i < b.n; i++) f(&b.first[i]);
}

// The goroutine a slot's value names as its waiter, or null (none, kReady, kWait, a thread).
g* waiting_goroutine(uintptr_t v) { return v > kWait && !is_thread(v) ? reinterpret_cast<g*>(v) : nullptr; }

g* pd_on_event(poll_target* self, uint32_t events);

poll_desc* pd_alloc() {
  os::rt_lock_guard lk(cache_lock);
  if (cache_free == nullptr) {
    constexpr size_t kBlock = 4096 / sizeof(poll_desc) > 0 ? 4096 / sizeof(poll_desc) : 1;
    auto* block = new poll_desc[kBlock];
    blocks.push_back({block, kBlock});
    for (size_t i = 0; i < kBlock; i++) {
      block[i].on_event.store(pd_on_event, std::memory_order_release);
      block[i].link = cache_free;
      cache_free = &block[i];
    }
  }
  poll_desc* pd = cache_free;
  cache_free = pd->link;
  pd->link = nullptr;
  return pd;
}

std::atomic<uintptr_t>& slot(poll_desc* pd, int mode) { return mode == 'r' ? pd->rg : pd->wg; }

// Go: netpollunblock. Takes the waiter out of the slot (ioready: leaves kReady behind).
// Returns the waiter (a g* or a tagged thread_waiter*) or 0.
uintptr_t unblock(poll_desc* pd, int mode, bool ioready) {
  auto& s = slot(pd, mode);
  for (;;) {
    uintptr_t old = s.load();
    if (old == kReady) return 0;
    if (old == 0 && !ioready) return 0;
    uintptr_t nw = ioready ? kReady : 0;
    if (s.compare_exchange_weak(old, nw)) {
      if (old == kWait) old = 0;  // the goroutine has not committed: its commit fails
      return old;
    }
  }
}

// Wakes a waiter taken out of a slot: a goroutine is readied (or appended to *list when the
// poller collects them), a thread is signalled.
void deliver(uintptr_t w, g** list) {
  if (w == 0) return;
  if (is_thread(w)) {
    uint64_t one = 1;
    auto* tw = reinterpret_cast<thread_waiter*>(w & ~uintptr_t(1));
    while (write(tw->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    return;
  }
  g* gp = reinterpret_cast<g*>(w);
  netpoll_waiters.fetch_sub(1);
  if (list != nullptr) {
    gp->schedlink = *list;
    *list = gp;
  } else {
    goready(gp);
  }
}

// Go: netpollready, for one descriptor.
g* pd_on_event(poll_target* self, uint32_t events) {
  auto* pd = static_cast<poll_desc*>(self);
  g* list = nullptr;
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !pd->hup.load(std::memory_order_relaxed))
    pd->hup.store(true);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) deliver(unblock(pd, 'r', true), &list);
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) deliver(unblock(pd, 'w', true), &list);
  return list;
}

// Go: netpollcheckerr.
int checkerr(poll_desc* pd, int mode, bool thread) {
  if (pd->closing.load()) return poll_err_closing;
  int64_t d = mode == 'r' ? pd->rd.load() : pd->wd.load();
  if (d < 0) return poll_err_timeout;
  if (thread && d > 0 && d <= os::nanotime()) return poll_err_timeout;
  return poll_ok;
}

// Go: netpollblockcommit.
bool block_commit(g* gp, void* arg) {
  auto* s = static_cast<std::atomic<uintptr_t>*>(arg);
  uintptr_t expect = kWait;
  if (!s->compare_exchange_strong(expect, reinterpret_cast<uintptr_t>(gp))) return false;
  netpoll_waiters.fetch_add(1);
  return true;
}

void deadline_fired(void* arg, uintptr_t seq) {
  auto* pd = static_cast<poll_desc*>(arg);
  int mode = (seq & 1) ? 'w' : 'r';
  uintptr_t w;
  {
    os::rt_lock_guard lk(pd->lock);
    if ((seq >> 1) != (mode == 'r' ? pd->rseq : pd->wseq)) return;  // stale
    (mode == 'r' ? pd->rd : pd->wd).store(-1);
    w = unblock(pd, mode, false);
  }
  deliver(w, nullptr);
}

bool timers_usable() { return sched.running.load(std::memory_order_acquire); }

// Arms mode's deadline timer for the current deadline. pd->lock held.
void arm_locked(poll_desc* pd, int mode) {
  timer& t = mode == 'r' ? pd->rt : pd->wt;
  int64_t d = mode == 'r' ? pd->rd.load() : pd->wd.load();
  if (d <= 0 || !timers_usable()) return;
  t.f = deadline_fired;
  t.arg = pd;
  t.period = 0;
  t.when = d;
  t.seq = mode == 'r' ? (pd->rseq << 1) : ((pd->wseq << 1) | 1);
  addtimer(&t);
}

// Go: netpollblock, for a goroutine. True if an event arrived.
bool block(poll_desc* pd, int mode) {
  auto& s = slot(pd, mode);
  for (;;) {
    uintptr_t v = kReady;
    if (s.compare_exchange_strong(v, 0)) return true;
    v = 0;
    if (s.compare_exchange_strong(v, kWait)) break;
    if (v != kReady && v != 0) fatal("netpoll: two goroutines wait on one descriptor");
  }
  if (checkerr(pd, mode, false) == poll_ok) {
    note_io_park(current_g());  // an idle wait may get its stack released (stack_release.hpp)
    gopark(block_commit, &s, wait_reason::io_wait);
  }
  uintptr_t old = s.exchange(0);
  if (old > kWait) fatal("netpoll: corrupted poll descriptor");
  return old == kReady;
}

// The plain-thread version of poll_wait.
int thread_wait(poll_desc* pd, int mode) {
  thread_waiter* tw = my_waiter();
  const uintptr_t tag = reinterpret_cast<uintptr_t>(tw) | 1;
  auto& s = slot(pd, mode);
  for (;;) {
    if (int e = checkerr(pd, mode, true)) return e;
    drain(tw->efd);
    uintptr_t v = kReady;
    if (s.compare_exchange_strong(v, 0)) return poll_ok;
    v = 0;
    if (!s.compare_exchange_strong(v, tag)) fatal("netpoll: two waiters on one descriptor");
    if (int e = checkerr(pd, mode, true)) {
      s.exchange(0);
      return e;
    }
    int64_t d = mode == 'r' ? pd->rd.load() : pd->wd.load();
    timespec ts;
    timespec* tsp = nullptr;
    if (d > 0) {
      int64_t left = d - os::nanotime();
      if (left < 0) left = 0;
      ts.tv_sec = left / 1000000000;
      ts.tv_nsec = left % 1000000000;
      tsp = &ts;
    }
    pollfd fds[2];
    fds[0].fd = pd->fd;
    fds[0].events = short(mode == 'r' ? (POLLIN | POLLRDHUP) : POLLOUT);
    fds[0].revents = 0;
    fds[1].fd = tw->efd;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    int n = ppoll(fds, 2, tsp, nullptr);
    v = s.exchange(0);
    if (v == kReady || (n > 0 && fds[0].revents != 0)) return poll_ok;
  }
}

// A gort::run that ends leaves its goroutines behind as zombies, some perhaps parked on
// the poller; a later event on their descriptors must not ready them. Runs with every M at
// rest (Go has no such case: its program ends with main).
void drop_zombie_waiters() {
  os::rt_lock_guard lk(cache_lock);
  for_each_pd([](poll_desc* pd) {
    for (auto* s : {&pd->rg, &pd->wg}) {
      uintptr_t v = s->load();
      g* gp = waiting_goroutine(v);
      if (gp == nullptr || gp->status.load() != gstatus::zombie) continue;
      if (s->compare_exchange_strong(v, 0)) netpoll_waiters.fetch_sub(1);
    }
  });
}

[[maybe_unused]] const bool registered = (on_run_end(drop_zombie_waiters), true);

// For sysmon's stack release sweep: visits the goroutines parked on descriptors now (a
// snapshot: visit checks each one's state itself), outside cache_lock so that the sweep's
// system calls never hold up poll_open.
void walk_io_waiters(void (*visit)(g*)) {
  std::vector<g*> parked;
  {
    os::rt_lock_guard lk(cache_lock);
    for_each_pd([&](poll_desc* pd) {
      for (auto* s : {&pd->rg, &pd->wg})
        if (g* gp = waiting_goroutine(s->load(std::memory_order_relaxed))) parked.push_back(gp);
    });
  }
  for (g* gp : parked) visit(gp);
}

[[maybe_unused]] const bool walk_registered = (set_io_waiter_walk(walk_io_waiters), true);

// In a forked child (the only thread, which holds cache_lock across the fork): every open
// descriptor goes into the child's new epoll instance. Registering reports what is ready
// now, so no readiness is lost.
void reregister_open_descriptors() {
  for_each_pd([](poll_desc* pd) {
    if (pd->fd >= 0) netpoll_register(pd->fd, pd);
  });
}

[[maybe_unused]] const bool reregister_set = (set_netpoll_reregister(reregister_open_descriptors), true);

// In a forked child (the only thread): netpoll_waiters counts the goroutines in the slots
// again. A lost thread may have been between a slot's update and the count's (block_commit,
// deliver); a count one too low would let checkdead call a goroutine waiting on the poller
// a deadlock, one too high would keep it quiet for ever.
void recount_waiters_in_child() {
  int32_t n = 0;
  for_each_pd([&](poll_desc* pd) {
    for (auto* s : {&pd->rg, &pd->wg}) n += waiting_goroutine(s->load(std::memory_order_relaxed)) != nullptr;
  });
  netpoll_waiters.store(n, std::memory_order_relaxed);
  unlock_poll_descs_after_fork();
}

[[maybe_unused]] const bool fork_registered =
    (on_fork(lock_poll_descs_for_fork, unlock_poll_descs_after_fork, recount_waiters_in_child), true);

}  // namespace

void lock_poll_descs_for_fork() {
  tw_lock.lock();
  cache_lock.lock();
  for_each_pd([](poll_desc* pd) { pd->lock.lock(); });
}

void unlock_poll_descs_after_fork() {
  for_each_pd([](poll_desc* pd) { pd->lock.unlock(); });
  cache_lock.unlock();
  tw_lock.unlock();
}

poll_desc* poll_open(int fd, int* err) {
  netpoll_init();
  poll_desc* pd = pd_alloc();
  {
    os::rt_lock_guard lk(pd->lock);
    pd->fd = fd;
    pd->rg.store(0);
    pd->wg.store(0);
    pd->closing.store(false);
    pd->hup.store(false);
    pd->rd.store(0);
    pd->wd.store(0);
    pd->rseq++;
    pd->wseq++;
  }
  int e = netpoll_register(fd, pd);
  if (e != 0) {
    *err = e;
    poll_close(pd);
    return nullptr;
  }
  *err = 0;
  return pd;
}

void poll_close(poll_desc* pd) {
  {
    os::rt_lock_guard lk(pd->lock);
    uintptr_t r = pd->rg.load(), w = pd->wg.load();
    if (r > kWait || w > kWait) fatal("netpoll: closing a descriptor that has waiters");
    pd->rseq++;
    pd->wseq++;
    deltimer(&pd->rt);
    deltimer(&pd->wt);
    pd->fd = -1;
  }
  os::rt_lock_guard lk(cache_lock);
  pd->link = cache_free;
  cache_free = pd;
}

int poll_reset(poll_desc* pd, int mode) {
  if (int e = checkerr(pd, mode, false)) return e;
  slot(pd, mode).store(0);
  return poll_ok;
}

int poll_wait_drained(poll_desc* pd, int mode) {
  if (int e = checkerr(pd, mode, false)) return e;
  if (pd->hup.load()) return poll_reset(pd, mode);
  uintptr_t v = kReady;
  if (slot(pd, mode).compare_exchange_strong(v, 0)) return poll_ok;  // an edge came: read
  return poll_wait(pd, mode);
}

int poll_wait(poll_desc* pd, int mode) {
  if (int e = checkerr(pd, mode, false)) return e;
  if (current_g() == nullptr) return thread_wait(pd, mode);
  // A deadline set while no scheduler ran has no timer yet.
  timer& t = mode == 'r' ? pd->rt : pd->wt;
  if ((mode == 'r' ? pd->rd.load() : pd->wd.load()) > 0 && t.pp.load() == nullptr) {
    os::rt_lock_guard lk(pd->lock);
    if (t.pp.load() == nullptr) arm_locked(pd, mode);
  }
  while (!block(pd, mode)) {
    if (int e = checkerr(pd, mode, false)) return e;
  }
  return poll_ok;
}

void poll_set_deadline(poll_desc* pd, int64_t d, int mode) {
  if (d > 0 && d <= os::nanotime()) d = -1;
  uintptr_t wr = 0, ww = 0;
  {
    os::rt_lock_guard lk(pd->lock);
    if (pd->closing.load()) return;
    for (int m : {'r', 'w'}) {
      if (mode != m && mode != 'r' + 'w') continue;
      timer& t = m == 'r' ? pd->rt : pd->wt;
      (m == 'r' ? pd->rseq : pd->wseq)++;
      deltimer(&t);
      (m == 'r' ? pd->rd : pd->wd).store(d);
      arm_locked(pd, m);
      uintptr_t& w = m == 'r' ? wr : ww;
      if (d < 0) {
        w = unblock(pd, m, false);
      } else {
        // A blocked plain thread recomputes its wait for the new deadline.
        uintptr_t v = slot(pd, m).load();
        if (is_thread(v)) w = v;  // signalled below, left in its slot
      }
    }
  }
  deliver(wr, nullptr);
  deliver(ww, nullptr);
}

void poll_evict(poll_desc* pd) {
  uintptr_t wr, ww;
  {
    os::rt_lock_guard lk(pd->lock);
    pd->closing.store(true);
    pd->rseq++;
    pd->wseq++;
    deltimer(&pd->rt);
    deltimer(&pd->wt);
    wr = unblock(pd, 'r', false);
    ww = unblock(pd, 'w', false);
  }
  deliver(wr, nullptr);
  deliver(ww, nullptr);
}

}  // namespace gort::rt
