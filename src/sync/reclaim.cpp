// reclaim: deferred freeing for lock-free readers (the read side is inline in
// include/gort/sync/map.hpp, namespace gort::rt, "Memory reclamation").
//
// A process-wide, SRCU-style domain: per-thread reader records with split lock/unlock
// counters and two phases.
//
//   reader:  ph = phase; self->lock[ph]++; [fence] ... reads ... self'->unlock[ph]++
//            (self' is the record of the thread running at exit: a goroutine that moved
//            to another thread counts its exit there, so every record has one writer)
//   writer:  unlink the object (seq_cst store / CAS), rcu_retire(it)
//   reclaim: take the retired list (once kRcuBatch objects wait), then a grace period:
//              barrier (membarrier(2) on every running thread of the process, or a fence
//              when readers fence themselves);
//              p = phase; wait until phase !p is idle; phase = !p; wait until phase p is
//              idle; then free what was taken.
//   "phase q idle": U = sum of unlock[q] over all records, fence, L = sum of lock[q];
//              L == U.
// The counters are plain load + store by their own thread: gort preempts goroutines only at
// runtime calls, so a goroutine cannot change threads between loading its record and
// storing to it. (With asynchronous preemption the read side would need a locked add on a
// counter remembered from entry, as in SRCU's per-CPU form.) A record whose thread exits
// goes back to a pool for the next new thread; records are never freed.
//
// Why it is safe. A reader that can still hold an unlinked object loaded its pointer before
// the unlink took effect for it. Its lock store comes before that load in program order, and
// the barrier orders them for the reclaimer: either the lock store was visible when the
// barrier ran on the reader's CPU (so every later scan counts it), or the reader's loads come
// after that barrier and after the unlink, so it cannot see the object. (Without membarrier,
// the reader's fence after its lock store and the reclaimer's fence pair up the same way.)
// A scan that finds L == U for phase q finds every counted lock matched by a counted unlock:
// unlocks are summed first, and a section's unlock (a release store) comes after its lock,
// so a counted unlock's lock is counted by the later lock sum; equal totals leave no counted
// lock without its unlock. A grace period scans both phases after the barrier, so it waits
// for every section that could hold the batch's objects. The phase flip is for progress:
// new sections use the new phase, so the old one drains under a constant stream of reads;
// the first wait catches sections that read the phase just before the previous flip.
//
// Writers never wait for readers: rcu_poll (called by the maps after leaving their read
// sections and mutex) starts a grace period and then advances it one step per call — each
// "wait until idle" is a single check that returns when readers are still inside — and
// frees the batch when it completes. So a reader that the OS has descheduled inside its
// section costs nothing but memory. Only rcu_barrier (used by ~map) waits: it spins
// briefly, then yields (gort::yield: a goroutine gives up its P, so a reader on the same P
// can finish; a plain thread yields the thread). Grace periods run one at a time (gp_busy),
// never from inside a read section (a barrier would wait for itself). Retired objects are
// freed after gp_busy is released, so a destructor run by the free may itself use the
// domain (a map of maps).
//
// fork: only the forking thread comes along, and it is inside no read section (sections hold
// only hashes, compares and copies, which must not fork). So in the child every section
// still open belongs to a thread that is gone: orphan_unlock closes them all, and a grace
// period those threads were running is dropped (its batch leaks), so that no grace period
// in the child waits for them. free_mu is held across the fork.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "gort/runtime.hpp"
#include "gort/sync/map.hpp"
#include "os/membarrier.hpp"
#include "sched/fork.hpp"

namespace gort::rt {

constinit rcu_global rcu_state;
constinit std::atomic<int64_t> rcu_pending{0};
constinit std::atomic<bool> rcu_gp_running{false};

namespace {

alignas(64) std::atomic<rcu_reader*> all_readers{nullptr};
std::mutex free_mu;                 // guards free_readers (registration only)
rcu_reader* free_readers = nullptr;
alignas(64) std::atomic<retired*> retired_head{nullptr};
alignas(64) std::atomic<bool> gp_busy{false};
bool use_membarrier = false;  // set once at start-up, before any thread reads

// Start-up: readers skip their fence only when membarrier works.
const bool membarrier_registered = [] {
  const char* f = std::getenv("GORT_RCU_FENCED");
  if (f != nullptr && std::strcmp(f, "1") == 0) return false;
  if (!os::register_membarrier()) return false;
  use_membarrier = true;
  rcu_state.reader_fence.store(false, std::memory_order_seq_cst);
  return true;
}();

// Gives the thread's record back when the thread exits.
thread_local bool releaser_gone = false;
struct reader_releaser {
  bool armed = false;
  ~reader_releaser() {
    releaser_gone = true;
    rcu_reader* r = rcu_self;
    if (!armed || r == nullptr) return;
    rcu_self = nullptr;
    std::lock_guard lk(free_mu);
    r->next_free = free_readers;
    free_readers = r;
  }
};
thread_local reader_releaser releaser;

void backoff(int& spins) {
  if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    gort::yield();
  }
}

bool phase_busy(uint32_t q) {
  uint64_t unlocks = rcu_state.orphan_unlock[q].load(std::memory_order_acquire), locks = 0;
  rcu_reader* all = all_readers.load(std::memory_order_acquire);
  for (rcu_reader* r = all; r != nullptr; r = r->next_all)
    unlocks += r->unlock[q].load(std::memory_order_acquire);
  rcu_full_fence();
  for (rcu_reader* r = all_readers.load(std::memory_order_acquire); r != nullptr;
       r = r->next_all)
    locks += r->lock[q].load(std::memory_order_relaxed);
  return locks != unlocks;
}

void wait_idle(uint32_t q) {
  int spins = 0;
  while (phase_busy(q)) backoff(spins);
}

// One whole grace period, waiting; gp_busy is held.
void grace_period() {
  rcu_full_fence();
  if (use_membarrier) os::heavy_fence();
  uint32_t p = rcu_state.phase.load(std::memory_order_relaxed) & 1;
  wait_idle(p ^ 1);
  rcu_state.phase.store(p ^ 1, std::memory_order_seq_cst);
  wait_idle(p);
  rcu_full_fence();
}

// The polled grace period that rcu_reclaim advances without waiting (guarded by gp_busy).
// stage 0: none; 1: barrier done, waiting for phase !p to go idle; 2: flipped, waiting for
// phase p. gp_batch is what it frees at the end.
retired* gp_batch = nullptr;
int gp_stage = 0;
uint32_t gp_p = 0;

// Advances the polled grace period as far as it goes now; returns the batch to free when it
// completes.
retired* advance(bool wait) {
  if (gp_stage == 0) return nullptr;
  if (gp_stage == 1) {
    if (wait) {
      wait_idle(gp_p ^ 1);
    } else if (phase_busy(gp_p ^ 1)) {
      return nullptr;
    }
    rcu_state.phase.store(gp_p ^ 1, std::memory_order_seq_cst);
    gp_stage = 2;
  }
  if (wait) {
    wait_idle(gp_p);
  } else if (phase_busy(gp_p)) {
    return nullptr;
  }
  rcu_full_fence();
  retired* done = gp_batch;
  gp_batch = nullptr;
  gp_stage = 0;
  rcu_gp_running.store(false, std::memory_order_relaxed);
  return done;
}

void release_gp() { gp_busy.store(false, std::memory_order_release); }

// Frees a list taken from retired_head (gp_busy released, a grace period done).
void free_list(retired* r) {
  while (r != nullptr) {
    retired* next = r->next;
    r->free(r);
    r = next;
  }
}

retired* take_all() {
  retired* list = retired_head.exchange(nullptr, std::memory_order_acq_rel);
  int64_t n = 0;
  for (retired* r = list; r != nullptr; r = r->next) n++;
  rcu_pending.fetch_sub(n, std::memory_order_relaxed);
  return list;
}

void lock_readers_for_fork() { free_mu.lock(); }
void unlock_readers_in_parent() { free_mu.unlock(); }

// The only thread: see "fork" above.
void close_lost_sections_in_child() {
  for (uint32_t q = 0; q < 2; q++) {
    uint64_t locks = 0, unlocks = rcu_state.orphan_unlock[q].load(std::memory_order_relaxed);
    for (rcu_reader* r = all_readers.load(std::memory_order_relaxed); r != nullptr; r = r->next_all) {
      locks += r->lock[q].load(std::memory_order_relaxed);
      unlocks += r->unlock[q].load(std::memory_order_relaxed);
    }
    rcu_state.orphan_unlock[q].fetch_add(locks - unlocks, std::memory_order_relaxed);
  }
  gp_batch = nullptr;
  gp_stage = 0;
  rcu_gp_running.store(false, std::memory_order_relaxed);
  gp_busy.store(false, std::memory_order_relaxed);
  free_mu.unlock();
}

[[maybe_unused]] const bool fork_registered =
    (on_fork(lock_readers_for_fork, unlock_readers_in_parent, close_lost_sections_in_child), true);

}  // namespace

rcu_reader* rcu_register() noexcept {
  (void)membarrier_registered;
  rcu_reader* r = nullptr;
  {
    std::lock_guard lk(free_mu);
    if (free_readers != nullptr) {
      r = free_readers;
      free_readers = r->next_free;
    }
  }
  if (r == nullptr) {
    r = new rcu_reader();
    rcu_reader* head = all_readers.load(std::memory_order_relaxed);
    do {
      r->next_all = head;
    } while (!all_readers.compare_exchange_weak(head, r, std::memory_order_release,
                                                std::memory_order_relaxed));
  }
  rcu_self = r;
  // Hand the record back at thread exit (unless thread-local destruction is already under
  // way: then the record stays with this thread for good).
  if (!releaser_gone) releaser.armed = true;
  return r;
}

void rcu_retire(retired* r) noexcept {
  retired* head = retired_head.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!retired_head.compare_exchange_weak(head, r, std::memory_order_release,
                                               std::memory_order_relaxed));
  rcu_pending.fetch_add(1, std::memory_order_relaxed);
}

void rcu_reclaim() noexcept {
  if (gp_busy.exchange(true, std::memory_order_acquire)) return;  // someone else is at it
  retired* done = advance(false);
  if (gp_stage == 0 && rcu_pending.load(std::memory_order_relaxed) >= kRcuBatch) {
    // Start the next grace period: everything retired so far was unlinked before this.
    gp_batch = take_all();
    rcu_full_fence();
    if (use_membarrier) os::heavy_fence();
    gp_p = rcu_state.phase.load(std::memory_order_relaxed) & 1;
    gp_stage = 1;
    rcu_gp_running.store(true, std::memory_order_relaxed);
    if (done == nullptr) done = advance(false);
  }
  release_gp();
  free_list(done);
}

void rcu_barrier() noexcept {
  int spins = 0;
  while (gp_busy.exchange(true, std::memory_order_acquire)) backoff(spins);
  retired* done = advance(true);  // the polled grace period, if one is under way
  retired* list = take_all();
  grace_period();
  release_gp();
  free_list(done);
  free_list(list);
}

}  // namespace gort::rt
