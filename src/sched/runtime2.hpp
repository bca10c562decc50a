// runtime2: the scheduler's data structures, named as in Go's runtime2.go so the fact sheet
// and the code read side by side.
//
//  g      a goroutine: saved context, stack, status, wait reason. Gs are allocated densely
//         from a pool (walking run queues and free lists must not take a TLB miss per G)
//         and are kept with their stack when the goroutine exits (Go keeps dead Gs too).
//  m      an OS thread. Its g0 is the thread's native stack, where the scheduler loop runs
//         when no goroutine is ready to be switched to directly.
//  p      a processor: the right to run Go code, GOMAXPROCS of them. Owns the local run
//         queue (256 + runnext), the free-G cache and the 4-ary timer heap.
//  schedt the global state under sched.lock: idle Ms and Ps, the global run queue.
//
// Invariants:
//  - A g in status running has exactly one m (g->m), and that m's curg is the g.
//  - A g in a run queue is runnable and no m runs on its stack.
//  - A p is owned by at most one m (p->m); only the owner pushes to its local queue.
//  - Fields read by other threads without sched.lock (status, schedtick, syscalltick,
//    curg, p->m, timer0when, preempt) are atomics.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include <pthread.h>

#include "malloc/pcache.hpp"
#include "os/lock.hpp"
#include "sched/stack.hpp"

namespace gort::rt {

struct g;
struct m;
struct p;

enum class gstatus : uint32_t {
  idle = 0,      // just allocated
  runnable = 1,  // on a run queue
  running = 2,   // has an m and a p
  syscall = 3,   // in a blocking call (gort::syscall); has an m, maybe no p
  waiting = 4,   // parked (gopark)
  dead = 6,      // exited, on a free list
  // Parked, and its stack being put aside by sysmon (stack_release.cpp). A waker spins
  // until it is waiting again, as Go's casgstatus does for _Gcopystack.
  copystack = 8,
  zombie = 100,  // left behind when a gort::run ended; never runs again
};

enum class pstatus : uint32_t { idle = 0, running = 1, syscall = 2, gcstop = 3, dead = 4 };

// Go 1.19's waitReason strings (the ones the runtime has uses for so far, and the ones the
// channel/sync/net layers will use).
enum class wait_reason : uint8_t {
  zero,
  chan_receive,
  chan_send,
  select,
  select_no_cases,
  chan_receive_nil_chan,
  chan_send_nil_chan,
  sleep,
  io_wait,
  sync_cond_wait,
  semacquire,
  preempted,
};
const char* wait_reason_string(wait_reason r);

// A runtime timer (Go: runtime.timer). Lives in at most one P's heap at a time.
// f runs on whichever M checks that heap, with no lock held, after the timer has left the
// heap (one-shot) or been rescheduled (periodic). f must not block. As in Go, f may run
// after deltimer returned false, so whatever f touches must outlive that.
struct timer {
  int64_t when = 0;
  int64_t period = 0;
  void (*f)(void* arg, uintptr_t seq) = nullptr;
  void* arg = nullptr;
  uintptr_t seq = 0;
  std::atomic<p*> pp{nullptr};  // heap holding the timer, or null
  int32_t heap_index = -1;
};

// One slot of a P's timer heap: the timer and a copy of its `when`, so that sifting
// compares within the heap's own array instead of loading every child timer (one cold
// line each: a sleeping goroutine's timer lives in its g). Go 1.23 made the same move
// (timerWhen). Invariant: while t is in the heap, when == t->when.
struct timer_slot {
  int64_t when;
  timer* t;
};

struct g {
  void* sp = nullptr;  // saved context while switched out
  // While non-null, the live part of the stack ([sp, stk.hi)) was copied here and its
  // pages released (stack_release.cpp); whoever switches to the g restores them first.
  unsigned char* stk_saved = nullptr;
  stack stk;
  std::atomic<gstatus> status{gstatus::idle};
  int64_t goid = 0;
  wait_reason waitreason = wait_reason::zero;
  int64_t waitsince = 0;            // nanotime when parked
  g* schedlink = nullptr;           // run queue / free list link
  g* gfree_batch_next = nullptr;    // global free list: next batch (on a batch's first g)
  int32_t gfree_batch_len = 0;      // global free list: Gs in this batch (on its first g)
  std::atomic<m*> mp{nullptr};      // the m running it
  m* lockedm = nullptr;             // LockOSThread
  std::atomic<bool> preempt{false}; // sysmon's request to yield at the next safe point
  bool is_main = false;

  // What the goroutine runs: entry(closure). The closure lives in closure_buf when it
  // fits (the goroutine then gets its stack only when it first runs: sp is null until
  // then), else at the top of a stack attached at creation.
  static constexpr size_t kClosureBytes = 64;
  static constexpr size_t kClosureAlign = 16;
  void (*entry)(void*) = nullptr;
  void* closure = nullptr;
  alignas(kClosureAlign) unsigned char closure_buf[kClosureBytes];
  void* param = nullptr;  // passed by the waker (the winning sudog, for channels)

  timer sleep_timer;      // cached timer for time::sleep

  // "created by" in tracebacks.
  int64_t parent_goid = 0;
  uintptr_t gopc = 0;

  // Backtrace captured when an exception was thrown on this goroutine, so that an
  // unrecovered panic prints the throw site (as Go prints the panic site). The buffer is
  // allocated at the goroutine's first throw and kept with the g.
  static constexpr int kThrowTraceMax = 48;
  void** throw_trace = nullptr;
  int throw_depth = 0;

  // Sanitizer fiber state.
  void* asan_fake_stack = nullptr;
  void* tsan_fiber = nullptr;

  // Stack release (stack_release.cpp): the sweep that last saw the g park on the poller,
  // where its released pages start, and their state (stack_release.hpp).
  std::atomic<uint64_t> io_park_sweep{0};
  uintptr_t stk_released_lo = 0;
  std::atomic<uint8_t> stk_state{0};
};

// Runs on the stack being switched to, right after a switch, on behalf of the g that was
// switched away from (Go: the unlockf of gopark, run by park_m on g0).
using switch_hook = void (*)(m* mp, g* gp, void* arg);

struct m {
  int64_t id = 0;
  void* g0_sp = nullptr;               // saved scheduler context
  uintptr_t g0_stack_lo = 0;           // native stack bounds (sanitizers)
  size_t g0_stack_size = 0;
  void* g0_asan_fake_stack = nullptr;
  void* g0_tsan_fiber = nullptr;

  std::atomic<g*> curg{nullptr};
  p* pp = nullptr;        // attached p
  p* nextp = nullptr;     // p handed over by startm
  p* oldp = nullptr;      // p held before a syscall
  bool spinning = false;
  os::note park;
  m* schedlink = nullptr;  // idle list
  g* lockedg = nullptr;
  uint32_t locked_ext = 0;
  g* pending_g = nullptr;  // a g the fast path found but g0 must dispatch (locked g)

  switch_hook hook = nullptr;
  g* hook_g = nullptr;
  void* hook_arg = nullptr;
  bool hook_holds_sched_lock = false;  // a yield kept sched.lock across the switch

  uint64_t rand_state = 0;
  pthread_t thread{};
  int tid = 0;               // kernel thread id (deadlock check)
  bool is_m0 = false;        // the thread that called gort::run
  bool exit_thread = false;  // a locked g exited: end this thread (Go does the same)
  void* altstack = nullptr;
};

struct p {
  int32_t id = 0;
  std::atomic<pstatus> status{pstatus::idle};
  std::atomic<m*> mp{nullptr};
  std::atomic<uint32_t> schedtick{0};
  std::atomic<uint32_t> syscalltick{0};
  // A stand-in (standin.hpp) whose hog has moved on: its owner retires it at the next
  // scheduling decision. Set by sysmon; read by the owner without a lock.
  std::atomic<bool> retire{false};

  // Local run queue: a lock-free ring (owner pushes; owner and thieves pop by CAS on head).
  static constexpr uint32_t kRunqSize = 256;
  std::atomic<uint32_t> runqhead{0};
  std::atomic<uint32_t> runqtail{0};
  std::atomic<g*> runq[kRunqSize] = {};
  std::atomic<g*> runnext{nullptr};

  g* gfree = nullptr;  // dead Gs (without stacks)
  int32_t gfree_count = 0;
  stack_cache stackcache;  // free stacks for this P's next goroutines
  malloc::mcache* mcache = nullptr;  // Go: p.mcache; the holding thread allocates from it
  std::atomic<int64_t> gcount{0};  // starts minus ends on this P (see schedt::ngoroutines)
  int64_t goidcache = 0;
  int64_t goidcacheend = 0;

  // Timers (Go 1.14-1.22 design): a 4-ary min-heap by `when` under timers_lock;
  // timer0when is the heap top's when (0: empty), read by other Ms without the lock.
  os::light_rt_mutex timers_lock;
  std::vector<timer_slot> timers;
  std::atomic<int64_t> timer0when{0};

  p* link = nullptr;  // idle list

  // Stand-ins (standin.hpp), under sched.lock: this P is one, lent while the goroutine on
  // `standin_for` keeps that P without reaching a safe point.
  bool standin = false;
  p* standin_for = nullptr;

  // sysmon's view (only sysmon touches these).
  uint32_t sysmon_schedtick = 0;
  int64_t sysmon_schedwhen = 0;
  int64_t sysmon_flagwhen = 0;      // when this slice's goroutine was flagged (0: not yet)
  uint32_t sysmon_syscalltick = 0;
  int64_t sysmon_syscallwhen = 0;
  p* sysmon_standin = nullptr;      // the stand-in lent for this P's hog
  uint32_t sysmon_hog_tick = 0;     // this P's schedtick when it was lent
};

// A FIFO ring of g pointers under sched.lock (the global run queue's storage). Positions
// only grow and wrap; slot = position & mask. Starts in its inline array, grows by
// doubling, never shrinks. Defined in runq.cpp.
struct g_ring {
  static constexpr uint32_t kInitial = 256;
  g** buf = initial;
  uint32_t mask = kInitial - 1;  // capacity - 1 (a power of two)
  uint32_t head = 0, tail = 0;
  g* initial[kInitial] = {};

  g_ring() = default;
  g_ring(const g_ring&) = delete;
  g_ring& operator=(const g_ring&) = delete;

  uint32_t size() const { return tail - head; }
  void reserve(uint32_t n) {
    if (uint64_t(size()) + n > uint64_t(mask) + 1) grow(n);
  }
  void push_back(g* gp) { buf[tail++ & mask] = gp; }   // after reserve
  void push_front(g* gp) { buf[--head & mask] = gp; }  // after reserve
  g* pop_front() { return buf[head++ & mask]; }        // when size() > 0
  void clear() { head = tail = 0; }

 private:
  // Out of line and cold, so that the callers' fast paths (a push under sched.lock on every
  // Gosched) save no registers for it.
  [[gnu::noinline, gnu::cold]] void grow(uint32_t n);
};

inline constexpr int kMaxGomaxprocs = 1024;

struct schedt {
  os::light_rt_mutex lock;

  m* midle = nullptr;
  int32_t nmidle = 0;
  int32_t nmidlelocked = 0;
  int32_t mcount = 0;  // Ms that exist and belong to the scheduler (sysmon excluded)
  int64_t mnext = 0;

  p* pidle = nullptr;
  std::atomic<int32_t> npidle{0};
  std::atomic<int32_t> nmspinning{0};

  // The global run queue (Go: sched.runq, a list through g.schedlink): here two rings of
  // g pointers, so that a batch moving in or out under sched.lock is a copy of pointers
  // (a list walk there missed in cache on every g another P had just made, while every
  // other P waited for the lock); a batch going in reads each g's sp, mostly from the
  // spilling P's own recent writes, to pick its ring. `runq` is Go's FIFO: goroutines that
  // have not started (g::sp is null: they take a stack on their first run) and goroutines
  // that gave up the processor (Gosched, preemption, a blocking call's slow exit). `runq_woken` holds
  // goroutines that hold a stack and were made runnable by a wake-up (spilled from a full
  // local queue, or injected without a P). globrunqget serves `runq_woken` first but gives
  // `runq` a place in every batch, so neither can starve (see runq.hpp). runqsize counts
  // both.
  g_ring runq;
  g_ring runq_woken;
  std::atomic<int32_t> runqsize{0};  // runq.size() + runq_woken.size(), readable without the lock
  uint32_t runq_turn = 0;            // alternates the ring a one-g take serves first

  // Free Gs shared by all Ps, as batches (chains through schedlink, batches through the
  // first g's gfree_batch_next) so that a P refills its cache in O(1) without touching
  // every cold g. gflock guards both.
  os::light_rt_mutex gflock;
  g* gfree = nullptr;
  int32_t ngfree = 0;

  std::atomic<int64_t> goidgen{0};

  std::atomic<bool> gcwaiting{false};
  int32_t stopwait = 0;
  os::note stopnote;

  std::atomic<bool> sysmonwait{false};
  os::note sysmonnote;
  // Set by wake_sysmon (a syscall, a start of the world): sysmon, woken, watches at its
  // shortest interval again. A wake by wake_sysmon_to_watch leaves it backed off.
  std::atomic<bool> sysmon_reset{false};

  std::atomic<int64_t> lastpoll{0};   // 0: an M is blocked in netpoll
  std::atomic<int64_t> pollUntil{0};  // when that M will wake

  // allp[0, gomaxprocs) are the processors GOMAXPROCS names; allp[gomaxprocs, nprocs) are
  // stand-ins (standin.hpp), live or retired (status dead). The scheduler's walks over the
  // Ps (stealing, timers, stop-the-world) cover nprocs; nstandins counts the live ones.
  p* allp[2 * kMaxGomaxprocs] = {};
  std::atomic<int32_t> gomaxprocs{0};
  std::atomic<int32_t> nprocs{0};
  std::atomic<int32_t> nstandins{0};  // written under lock

  os::light_rt_mutex allglock;
  std::vector<g*>& allgs = *new std::vector<g*>;  // never destroyed
  // Live user goroutines = ngoroutines + the sum of every P's gcount. Goroutines start on
  // one P and end on another, so one shared counter would bounce between cores on every
  // spawn; each P counts its own starts and ends instead (only its owner writes).
  std::atomic<int64_t> ngoroutines{0};  // goroutines counted without a P

  std::atomic<bool> running{false};   // a gort::run is active
  std::atomic<bool> main_started{false};  // the run's main goroutine is queued (checkdead waits for it)
  std::atomic<bool> exiting{false};   // the main goroutine returned
  bool main_goexited = false;
  int exit_code = 0;
  m* m0 = nullptr;
  g* main_g = nullptr;
  std::vector<m*>& allm = *new std::vector<m*>;  // every M ever started; sched.lock
  int sysmon_tid = 0;
  // checkdead held back only because a foreign thread existed: sysmon checks again.
  std::atomic<bool> deadlock_suspect{false};
  std::atomic<size_t> stack_size{kDefaultStackSize};
};

// One global instance. Its members hold their containers by reference, so destroying it
// at exit (trivially, in effect) leaves nothing dangling for Ms that outlive main.
extern schedt sched;

}  // namespace gort::rt
