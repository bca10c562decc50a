// proc: goroutines — creation, the context switch with its after-switch hook, park/ready,
// Gosched, preemption at safe points, and exit (Go: newproc, gopark, goready, gosched_m,
// goexit0 in proc.go).
//
// Switching. A goroutine that stops running (parks, yields, exits) switches *directly* to the
// next runnable goroutine of its P when one is at hand (runnext, local or global queue), and
// to its M's g0 (the scheduler loop, schedule.cpp) otherwise. The commit of the old
// goroutine's new state (status waiting + unlockf, a run queue push, the free list) is a
// hook that runs on the new stack right after the switch, so that no other M can resume a
// goroutine while its stack is still in use (Go does the same on g0 in park_m/mcall).
//
// Stacks. A new goroutine whose closure fits in its G (sp still null) gets a stack in
// switch_context, just before it first runs, from the running P's stack cache; an exiting
// goroutine's hook gives its stack back to that cache once the switch has left it. When
// the cache is empty (a fresh stack: a syscall and a page fault), leave() switches to g0
// first, so the leaving goroutine's hook (which may release a lock) runs before that cost.
// Dead Gs on the free lists hold no stacks.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "os/clock.hpp"
#include "os/thread.hpp"
#include "os/vm.hpp"
#include "gort/errors.hpp"
#include "gort/mem.hpp"
#include "gort/sync/mutex.hpp"
#include "sched/context.hpp"
#include "sched/fatal.hpp"
#include "sched/fork.hpp"
#include "sched/runq.hpp"
#include "sched/sanitizer.hpp"
#include "sched/sched.hpp"
#include "sched/standin.hpp"
#include "sched/shutdown.hpp"
#include "sched/stack_release.hpp"

__thread gort::rt::m* gort_tls_m __attribute__((tls_model("initial-exec"))) = nullptr;

namespace gort::rt {

schedt sched;

namespace {
thread_local uint64_t tls_rand = 0;
}  // namespace

void set_current_m(m* mp) { gort_tls_m = mp; }

__attribute__((noinline)) uint32_t fastrand() {
  // wyrand on a per-thread state.
  uint64_t& s = tls_rand;
  if (s == 0) s = uint64_t(os::nanotime()) ^ reinterpret_cast<uintptr_t>(&s);
  s += 0xa0761d6478bd642fULL;
  __uint128_t t = __uint128_t(s) * (s ^ 0xe7037ed1a0b428dbULL);
  return uint32_t((t >> 64) ^ t);
}

namespace {

void attach_stack(p* pp, g* gp);
[[noreturn]] void goroutine_main(void* arg);

// ---- The switch. ----

void run_hook(m* mp) {
  if (switch_hook h = mp->hook) {
    mp->hook = nullptr;
    h(mp, mp->hook_g, mp->hook_arg);
  }
}

// A goroutine about to run for the first time: give it a stack and the context that starts
// it (if the OS refuses a stack, the process cannot go on: the goroutine was promised).
[[gnu::noinline]] void prepare_first_run(m* mp, g* gp) {
  try {
    attach_stack(mp->pp, gp);
  } catch (const std::bad_alloc&) {
    fatal("runtime: cannot allocate goroutine stack");
  }
  gp->sp = make_context(gp->stk.hi, goroutine_main, gp);
}

// A goroutine resumed after a park of more than a millisecond (by sysmon's coarse clock,
// which may lag: then this is skipped, nothing more) finds its stack cold, and its switch-in
// returns through several frames (the switch's, leave, gopark, the blocking call's), each a
// cache miss, often a TLB miss first, one after another. Fetching the top kilobyte of that
// stack at once lets the misses overlap: `parked`'s wake phase (a million goroutines
// resumed) took 12 % less. A yield (waitreason zero or preempted) or a short park skips it,
// so hot switches pay three loads (the wait reason, the park's time, the coarse clock) and
// two compares.
constexpr int64_t kColdParkNs = 1'000'000;
constexpr uintptr_t kColdStackPrefetchBytes = 1024;

void prefetch_if_cold(const g* to, const void* sp) {
  if (to->waitreason == wait_reason::zero || to->waitreason == wait_reason::preempted) return;
  if (coarse_nanotime() - to->waitsince <= kColdParkNs) return;
  uintptr_t a = reinterpret_cast<uintptr_t>(sp) & ~uintptr_t(63);
  uintptr_t end = std::min(a + kColdStackPrefetchBytes, to->stk.hi);
  for (; a < end; a += 64) __builtin_prefetch(reinterpret_cast<const void*>(a));
}

// Switches from the running context (a g, or g0 when from is null) to `to` (g0 when null).
// Returns when the context we left is resumed, after running the pending hook; never when
// `from` is dying (an ended goroutine: nothing of it is saved). fp_control is the leaving
// context's, read early (read_fp_control; unused when dying).
void switch_context(m* mp, g* from, g* to, bool from_dying, uint64_t fp_control) {
  if (to != nullptr && to->sp == nullptr) [[unlikely]]
    prepare_first_run(mp, to);
  if (to != nullptr && to->stk_saved != nullptr) [[unlikely]]
    resume_released_stack(to);  // its idle stack was released (stack_release.cpp)
  void** save = from != nullptr ? &from->sp : &mp->g0_sp;
  void* target = to != nullptr ? to->sp : mp->g0_sp;
  if (to != nullptr) prefetch_if_cold(to, target);
  void** fake = from_dying ? nullptr
                           : (from != nullptr ? &from->asan_fake_stack : &mp->g0_asan_fake_stack);
  if (to != nullptr)
    san::start_switch(fake, to->stk.usable_lo, to->stk.usable_size(), to->tsan_fiber);
  else
    san::start_switch(fake, mp->g0_stack_lo, mp->g0_stack_size, mp->g0_tsan_fiber);
  if (from_dying) gort_jump_context(target);
  gort_swap_context(save, target, fp_control);
  // Resumed: maybe on another M.
  m* now = current_m();
  san::finish_switch(from != nullptr ? from->asan_fake_stack : now->g0_asan_fake_stack);
  run_hook(now);
}

// Picks the next goroutine for mp without going through g0, or null if g0 must decide
// (timers due, GC/exit requests, the 1-in-61 global check, locked goroutines, no work).
// With keep_lock (a yield, whose hook puts the yielder on the global queue), a goroutine
// taken from the global queue leaves sched.lock held for the hook: one lock, not two.
g* fast_pick(m* mp, g* cur, bool* inherit, bool keep_lock) {
  p* pp = mp->pp;
  if (pp == nullptr || mp->lockedg != nullptr || mp->exit_thread) return nullptr;
  if (sched.gcwaiting.load(std::memory_order_relaxed) ||
      sched.exiting.load(std::memory_order_relaxed))
    return nullptr;
  int64_t t0 = pp->timer0when.load(std::memory_order_relaxed);
  if (t0 != 0 && os::nanotime() >= t0) return nullptr;
  // Every 61st tick g0 looks at the global queue; and a stand-in asked to retire
  // (standin.hpp) goes there too, where findrunnable retires it: checked only on those
  // ticks, so that the direct switch pays nothing for it.
  if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
      (sched.runqsize.load(std::memory_order_relaxed) > 0 || pp->retire.load(std::memory_order_relaxed)))
    return nullptr;
  g* gp = runq_has_work(pp) ? runqget(pp, inherit) : nullptr;  // runqget sets *inherit
  if (gp == nullptr && sched.runqsize.load(std::memory_order_relaxed) > 0) {
    sched.lock.lock();
    gp = globrunqget(pp, 0);
    *inherit = false;
    if (gp != nullptr && keep_lock && gp->lockedm == nullptr)
      mp->hook_holds_sched_lock = true;
    else
      sched.lock.unlock();
  }
  if (gp == nullptr) return nullptr;
  if (gp->lockedm != nullptr) {
    mp->pending_g = gp;  // g0 hands it to its thread
    return nullptr;
  }
  // A goroutine sysmon flagged ends the shared time slice.
  if (cur != nullptr && cur->preempt.load(std::memory_order_relaxed)) *inherit = false;
  return gp;
}

// Only the P's owner writes schedtick (sysmon only reads it): no locked instruction.
inline void bump_schedtick(p* pp) {
  pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
}

void check_stack_barrier(g* gp) {
  if (gp->stk.guarded) return;
  uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (!stack_barrier_intact(gp->stk, sp)) fatal_stack_overflow(gp, sp);
}

}  // namespace

void execute(m* mp, g* gp, bool inherit) {
  uint64_t fp_control = read_fp_control();
  p* pp = mp->pp;
  mp->curg.store(gp, std::memory_order_release);
  gp->mp.store(mp, std::memory_order_relaxed);
  gp->preempt.store(false, std::memory_order_relaxed);
  gp->status.store(gstatus::running, std::memory_order_relaxed);
  if (!inherit) bump_schedtick(pp);
  switch_context(mp, nullptr, gp, false, fp_control);
}

namespace {

void hook_runnable_global(m* mp, g* gp, void*);

// Leaves gp (the running goroutine of this M): hook(mp, gp, arg) commits its new state after
// the switch. Returns when gp runs again.
void leave(m* mp, g* gp, switch_hook hook, void* arg, bool dying) {
  uint64_t fp_control = dying ? 0 : read_fp_control();  // first: see context_x86_64.S
  check_stack_barrier(gp);
  if (forked_during_run.load(std::memory_order_relaxed)) [[unlikely]]
    forked_child_leaves(mp, gp, dying);
  mp->hook = hook;
  mp->hook_g = gp;
  mp->hook_arg = arg;
  gp->mp.store(nullptr, std::memory_order_relaxed);
  bool inherit = false;
  g* next = fast_pick(mp, gp, &inherit, hook == hook_runnable_global);
  if (next != nullptr && next->sp == nullptr && mp->pp->stackcache.n == 0) [[unlikely]] {
    // Its first run needs a stack the P's cache does not have: a fresh one costs a
    // syscall and a page fault, which must not happen while the hook's lock (a channel's,
    // for a park) is still held, so go through g0: the hook runs first (and a dying
    // goroutine's stack lands in the cache), then g0 starts `next`.
    mp->pending_g = next;
    next = nullptr;
  }
  if (next != nullptr) {
    mp->curg.store(next, std::memory_order_release);
    next->mp.store(mp, std::memory_order_relaxed);
    next->preempt.store(false, std::memory_order_relaxed);
    next->status.store(gstatus::running, std::memory_order_relaxed);
    if (!inherit) bump_schedtick(mp->pp);
    switch_context(mp, gp, next, dying, fp_control);
  } else {
    mp->curg.store(nullptr, std::memory_order_relaxed);
    switch_context(mp, gp, nullptr, dying, fp_control);
  }
}

// ---- G allocation and free lists (Go: malg, gfput, gfget). ----

void allgadd(g* gp) {
  os::rt_lock_guard lk(sched.allglock);
  sched.allgs.push_back(gp);
}

void allgremove(g* gp) {
  os::rt_lock_guard lk(sched.allglock);
  auto& v = sched.allgs;
  for (size_t i = 0; i < v.size(); i++) {
    if (v[i] == gp) {
      v[i] = v.back();
      v.pop_back();
      return;
    }
  }
}

// Gs come from a dense pool in chunks of 256 from gort::mem, never returned (Go never frees
// Gs either).
struct g_pool {
  os::light_rt_mutex mu;  // the pool is never destroyed (gpool)
  g* free = nullptr;      // Gs given back by free_g, linked through schedlink
  char* chunk = nullptr;
  size_t left = 0;

  g* alloc() {
    os::rt_lock_guard lk(mu);
    if (g* gp = free) {
      free = gp->schedlink;
      return new (gp) g;
    }
    if (left == 0) {
      constexpr size_t kChunk = 256;
      chunk = static_cast<char*>(gort::mem::alloc(sizeof(g) * kChunk, 64));
      left = kChunk;
      os::populate_pages(chunk, sizeof(g) * kChunk);  // mapped in one call, not a fault a page
    }
    left--;
    return new (chunk + sizeof(g) * left) g;
  }

  void give_back(g* gp) {
    delete[] gp->throw_trace;
    gp->~g();
    os::rt_lock_guard lk(mu);
    gp->schedlink = free;
    free = gp;
  }
};

g_pool& gpool() {
  static auto* pool = new g_pool;  // never destroyed: Ms may outlive static destruction
  return *pool;
}

// A new G, without a stack (newproc attaches one).
g* malg() {
  g* gp = gpool().alloc();
  gp->tsan_fiber = san::create_fiber();
  gp->status.store(gstatus::dead, std::memory_order_relaxed);
  allgadd(gp);
  return gp;
}

void free_g(g* gp) {
  allgremove(gp);
  san::destroy_fiber(gp->tsan_fiber);
  if (gp->stk.hi != 0) stack_free(gp->stk);
  gpool().give_back(gp);
}

std::atomic<int32_t> global_gfree_count{0};

// gflock held.
void gfree_push_batch(g* head, int32_t n) {
  head->gfree_batch_next = sched.gfree;
  head->gfree_batch_len = n;
  sched.gfree = head;
  sched.ngfree += n;
  global_gfree_count.store(sched.ngfree, std::memory_order_relaxed);
}

// gflock held. Returns a chain of *n Gs, or null.
g* gfree_pop_batch(int32_t* n) {
  g* head = sched.gfree;
  if (head == nullptr) return nullptr;
  sched.gfree = head->gfree_batch_next;
  *n = head->gfree_batch_len;
  sched.ngfree -= *n;
  global_gfree_count.store(sched.ngfree, std::memory_order_relaxed);
  return head;
}

void gfput(p* pp, g* gp) {
  gp->schedlink = pp->gfree;
  pp->gfree = gp;
  if (++pp->gfree_count >= 64) {
    // Hand the 32 most recently freed (still warm) to the global list as one batch.
    g* head = pp->gfree;
    g* last = head;
    for (int i = 1; i < 32; i++) last = last->schedlink;
    pp->gfree = last->schedlink;
    pp->gfree_count -= 32;
    last->schedlink = nullptr;
    os::rt_lock_guard lk(sched.gflock);
    gfree_push_batch(head, 32);
  }
}

// A G that never ran: back to the free list (or the pool, from a thread without a P).
void gfput_or_free(p* pp, g* gp) {
  if (pp != nullptr)
    gfput(pp, gp);
  else
    free_g(gp);
}

g* gfget_global() {
  os::rt_lock_guard lk(sched.gflock);
  int32_t n;
  g* gp = gfree_pop_batch(&n);
  if (gp != nullptr && n > 1) gfree_push_batch(gp->schedlink, n - 1);
  return gp;
}

// The newest free G of pp's own list, or null; never takes a lock.
inline g* gfget_local(p* pp) {
  g* gp = pp->gfree;
  if (gp == nullptr) return nullptr;
  pp->gfree = gp->schedlink;
  pp->gfree_count--;
  return gp;
}

g* gfget(p* pp) {
  if (pp->gfree == nullptr && global_gfree_count.load(std::memory_order_relaxed) > 0) {
    os::rt_lock_guard lk(sched.gflock);
    int32_t n;
    if (g* batch = gfree_pop_batch(&n)) {
      pp->gfree = batch;
      pp->gfree_count = n;
    }
  }
  return gfget_local(pp);
}

// Gives gp a stack from this M's P (the warmest free one) and the context that starts it.
void attach_stack(p* pp, g* gp) {
  stack_cache* c = pp != nullptr ? &pp->stackcache : nullptr;
  if (c == nullptr || !stackcache_pop(c, sched.stack_size, &gp->stk))
    gp->stk = stackcache_get(c, sched.stack_size);
  san::unpoison_stack(gp->stk.usable_lo, gp->stk.hi);
}

// Takes a dead goroutine's stack back (it must not be running on it any more).
void detach_stack(p* pp, g* gp) {
  stackcache_put(pp != nullptr ? &pp->stackcache : nullptr, gp->stk);
  gp->stk = stack{};
}

}  // namespace

void gpool_lock() { gpool().mu.lock(); }
void gpool_unlock() { gpool().mu.unlock(); }

void gfree_give_back(p* pp) {
  if (pp->gfree == nullptr) return;
  os::rt_lock_guard lk(sched.gflock);
  gfree_push_batch(pp->gfree, pp->gfree_count);
  pp->gfree = nullptr;
  pp->gfree_count = 0;
}

namespace {

void hook_park(m* mp, g* gp, void* arg);
void hook_runnable_global(m* mp, g* gp, void*) {
  gp->status.store(gstatus::runnable, std::memory_order_release);
  if (!mp->hook_holds_sched_lock) sched.lock.lock();
  mp->hook_holds_sched_lock = false;
  globrunqput_back(gp);
  sched.lock.unlock();
  // The P already runs another goroutine, picked before gp reached the queue (Go queues
  // first, then picks): an M that looked at the queues in between may have idled its P.
  // Wake one for gp, or two yielders could take turns on one P for good while another P
  // sleeps. From g0 this P looks for work next and finds gp itself.
  if (mp->curg.load(std::memory_order_relaxed) != nullptr || mp->pending_g != nullptr) wakep();
}
// Go: goyield_m — back on this P's local queue, behind what is already there.
void hook_runnable_local(m* mp, g* gp, void*) {
  gp->status.store(gstatus::runnable, std::memory_order_release);
  runqput(mp->pp, gp, false);
}
void hook_gfput(m* mp, g* gp, void*) {
  detach_stack(mp->pp, gp);
  gfput(mp->pp, gp);
}
void hook_nothing(m*, g*, void*) {}

}  // namespace

// ---- Creation. ----

namespace {

// The closure goes in the G, and the stack comes when the goroutine first runs
// (switch_context), from the cache of the P that runs it: a queue of goroutines that have
// not started holds no stacks.
inline void keep_closure_in_g(g* gp) {
  gp->closure = gp->closure_buf;
  gp->sp = nullptr;
}

// newproc_alloc for a closure too big for the G: it goes at the top of a stack the G gets
// now. Out of line, so that the common path saves no registers for it.
[[gnu::noinline]] void place_closure_on_stack(p* pp, g* gp, size_t size, size_t align) {
  try {
    attach_stack(pp, gp);
  } catch (...) {
    gfput_or_free(pp, gp);
    throw;
  }
  uintptr_t top = gp->stk.hi;
  uintptr_t closure = (top - size) & ~(uintptr_t(align < 16 ? 16 : align) - 1);
  gp->closure = reinterpret_cast<void*>(closure);
  gp->sp = make_context(closure & ~uintptr_t(15), goroutine_main, gp);
}

// newproc_alloc's path when its fast one does not apply: no P, no free G on the P, no run
// active (which throws), or a closure too big for the G.
[[gnu::noinline]] g* newproc_alloc_slow(size_t size, size_t align, void** storage) {
  if (!sched.running.load(std::memory_order_acquire))
    throw runtime_error("gort::go called while no gort::run is active");
  p* pp = current_p();
  g* gp = pp != nullptr ? gfget(pp) : gfget_global();  // gfget refills from the global list
  if (gp == nullptr) gp = malg();
  if (size <= g::kClosureBytes && align <= g::kClosureAlign)
    keep_closure_in_g(gp);
  else
    place_closure_on_stack(pp, gp, size, align);
  *storage = gp->closure;
  return gp;
}

}  // namespace

g* newproc_alloc(size_t size, size_t align, void** storage) {
  // The common case, with nothing to save for a call: a free G on this P and a closure
  // that fits in it.
  p* pp = current_p();
  g* gp;
  if (sched.running.load(std::memory_order_acquire) && pp != nullptr &&
      size <= g::kClosureBytes && align <= g::kClosureAlign && (gp = gfget_local(pp)) != nullptr) [[likely]] {
    keep_closure_in_g(gp);
    *storage = gp->closure;
    return gp;
  }
  return newproc_alloc_slow(size, align, storage);
}

void newproc_abort(g* gp) {
  gp->status.store(gstatus::dead, std::memory_order_relaxed);
  p* pp = current_p();
  if (gp->stk.hi != 0) detach_stack(pp, gp);
  gfput_or_free(pp, gp);
}

void newproc_start(g* gp, void (*entry)(void*), uintptr_t gopc) {
  gp->entry = entry;
  gp->gopc = gopc;
  m* mp = current_m();  // read once: nothing below switches
  g* parent = mp != nullptr ? mp->curg.load(std::memory_order_relaxed) : nullptr;
  gp->parent_goid = parent != nullptr ? parent->goid : 0;
  gp->waitreason = wait_reason::zero;
  gp->lockedm = nullptr;
  gp->param = nullptr;
  gp->throw_depth = 0;
  gp->is_main = false;
  gp->preempt.store(false, std::memory_order_relaxed);
  gp->asan_fake_stack = nullptr;
  p* pp = mp != nullptr ? mp->pp : nullptr;
  count_goroutine(pp, 1);
  if (pp != nullptr) {
    if (pp->goidcache == pp->goidcacheend) {
      // Go takes goids in batches of 16 per P.
      pp->goidcache = sched.goidgen.fetch_add(16, std::memory_order_relaxed) + 1;
      pp->goidcacheend = pp->goidcache + 16;
    }
    gp->goid = pp->goidcache++;
    gp->status.store(gstatus::runnable, std::memory_order_release);
    runqput(pp, gp, true);
  } else {
    gp->goid = sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
    gp->status.store(gstatus::runnable, std::memory_order_release);
    os::rt_lock_guard lk(sched.lock);
    globrunqput(gp);
  }
  if (sched.main_started.load(std::memory_order_relaxed)) wakep();
  check_preempt();
}

// The main goroutine: one per gort::run, with a large guarded stack, kept between runs.
g* new_main_g(void (*entry)(void*), void* closure) {
  g* gp = sched.main_g;
  if (gp == nullptr) {
    gp = malg();
    gp->stk = stack_alloc(kMainStackSize, true);
    sched.main_g = gp;
  }
  san::unpoison_stack(gp->stk.usable_lo, gp->stk.hi);
  gp->closure = closure;
  gp->entry = entry;
  gp->sp = make_context(gp->stk.hi, goroutine_main, gp);
  gp->is_main = true;
  gp->goid = 1;
  gp->parent_goid = 0;
  gp->gopc = 0;
  gp->lockedm = nullptr;
  gp->throw_depth = 0;
  gp->asan_fake_stack = nullptr;
  gp->preempt.store(false, std::memory_order_relaxed);
  gp->status.store(gstatus::runnable, std::memory_order_release);
  count_goroutine(nullptr, 1);
  return gp;
}

void count_goroutine(p* pp, int64_t delta) {
  if (pp != nullptr)
    pp->gcount.store(pp->gcount.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  else
    sched.ngoroutines.fetch_add(delta, std::memory_order_relaxed);
}

int64_t goroutine_count() {
  int64_t n = sched.ngoroutines.load(std::memory_order_relaxed);
  int32_t procs = sched.nprocs.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++) n += sched.allp[i]->gcount.load(std::memory_order_relaxed);
  return n;
}

namespace {

[[noreturn]] void goroutine_main(void* arg) {
  g* gp = static_cast<g*>(arg);
  san::finish_switch(nullptr);
  run_hook(current_m());
  try {
    gp->entry(gp->closure);
  } catch (const goexit_unwind&) {
    // runtime.Goexit: destructors (defers) ran during the unwind.
    if (gp->is_main) sched.main_goexited = true;
  } catch (...) {
    fatal_panic(gp, std::current_exception());
  }
  if (gp->is_main && !sched.main_goexited) {
    // Go's runtime.main: while another thread prints a fatal panic or error, or a SIGQUIT
    // dump is pending, main does not end the process; the dying thread does, with status 2.
    while (process_dying()) pause();
    request_exit();
  }
  goexit0(gp);
}

}  // namespace

void goexit0(g* gp) {
  m* mp = current_m();
  gp->status.store(gstatus::dead, std::memory_order_release);
  count_goroutine(mp->pp, -1);
  if (gp->lockedm != nullptr) {
    // A goroutine that exits while locked takes its thread with it, as in Go; m0 (the
    // thread that called gort::run) is only unlocked.
    gp->lockedm = nullptr;
    mp->lockedg = nullptr;
    mp->locked_ext = 0;
    if (!mp->is_m0) mp->exit_thread = true;
  }
  leave(mp, gp, gp->is_main ? hook_nothing : hook_gfput, nullptr, true);
  __builtin_unreachable();
}

// ---- Park and ready. ----

namespace {

struct park_args {
  bool (*unlockf)(g*, void*);
  void* arg;
};

void hook_park(m* mp, g* gp, void* arg) {
  auto* a = static_cast<park_args*>(arg);
  gp->status.store(gstatus::waiting, std::memory_order_release);
  if (a->unlockf != nullptr && !a->unlockf(gp, a->arg)) {
    if (cas_waiting_to_runnable(gp)) runqput(mp->pp, gp, true);
  }
}

template <class Mutex>
bool unlock_rt_mutex(g*, void* lock) {
  static_cast<Mutex*>(lock)->unlock();
  return true;
}

}  // namespace

void gopark(bool (*unlockf)(g*, void*), void* arg, wait_reason reason) {
  m* mp = current_m();
  g* gp = mp->curg.load(std::memory_order_relaxed);
  gp->waitreason = reason;
  gp->waitsince = coarse_nanotime();
  park_args a{unlockf, arg};
  leave(mp, gp, hook_park, &a, false);
}

void goparkunlock(os::rt_mutex* lock, wait_reason reason) {
  gopark(unlock_rt_mutex<os::rt_mutex>, lock, reason);
}
void goparkunlock(os::light_rt_mutex* lock, wait_reason reason) {
  gopark(unlock_rt_mutex<os::light_rt_mutex>, lock, reason);
}

bool cas_waiting_to_runnable(g* gp, gstatus* seen) {
  int spins = 0;
  for (;;) {
    gstatus s = gstatus::waiting;
    if (gp->status.compare_exchange_weak(s, gstatus::runnable, std::memory_order_acq_rel))
      return true;
    if (s != gstatus::copystack && s != gstatus::waiting) {
      if (seen != nullptr) *seen = s;
      return false;
    }
    // copystack: sysmon is putting the stack aside (a few system calls); Go's casgstatus
    // waits the same way.
    if (s == gstatus::copystack) os::spin_then_yield(spins);
  }
}

void goready(g* gp) {
  gstatus s = gstatus::waiting;
  if (!cas_waiting_to_runnable(gp, &s)) {
    if (s == gstatus::zombie) fatal("goready: goroutine of a finished gort::run was woken");
    fatal("bad g->status in ready");
  }
  // The frame its switch will pop first: likely cold by now (it slept), and it runs soon.
  __builtin_prefetch(gp->sp);
  p* pp = current_p();
  if (pp != nullptr) {
    runqput(pp, gp, true);
    wakep();
  } else {
    // A waker without a P (a plain thread, sysmon): wakep would start nobody while an M
    // spins, and that M may already have looked at the global queue. Go readies from
    // P-less threads only through injectglist, which starts an M for an idle P whatever
    // the spinning count: do the same.
    gp->schedlink = nullptr;
    injectglist(gp);
  }
}

bool gosched() {
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg.load(std::memory_order_relaxed) : nullptr;
  if (gp == nullptr) return false;
  gp->waitreason = wait_reason::zero;
  leave(mp, gp, hook_runnable_global, nullptr, false);
  return true;
}

bool goyield() {
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg.load(std::memory_order_relaxed) : nullptr;
  if (gp == nullptr || mp->pp == nullptr || mp->lockedg != nullptr) return false;
  gp->waitreason = wait_reason::preempted;
  leave(mp, gp, hook_runnable_local, nullptr, false);
  return true;
}

bool sync_can_spin(int iter) {
  // Go: sync_runtime_canSpin — spin only a few rounds, only on a multicore machine with
  // other Ps running (someone may release the lock soon) and nothing queued on ours.
  static const long ncpu = os::ncpu();
  if (iter >= 4 || ncpu <= 1) return false;
  if (live_procs() <=
      sched.npidle.load(std::memory_order_relaxed) +
          sched.nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  p* pp = current_p();
  return pp == nullptr || runqempty(pp);
}

void check_preempt() {
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg.load(std::memory_order_relaxed) : nullptr;
#if GORT_COUNT_RT_LOCKS
  if (gp != nullptr && os::rt_locks_held != 0)
    fatal("runtime: safe point reached with a runtime lock held");
#endif
  // Not inside gort::syscall or gort::blocking (status syscall, the P handed on or
  // retakable): the call's end honours the flag.
  if (gp != nullptr && gp->preempt.load(std::memory_order_relaxed) &&
      gp->status.load(std::memory_order_relaxed) == gstatus::running) {
    gp->waitreason = wait_reason::preempted;
    leave(mp, gp, hook_runnable_global, nullptr, false);
  }
}

void flag_preempt(g* gp) {
  gp->preempt.store(true, std::memory_order_seq_cst);
  // After the flag: refresh_preempt_hint clears the hint before it looks at the flags.
  if (!gort::detail::preempt_hint.load(std::memory_order_relaxed))
    gort::detail::preempt_hint.store(true, std::memory_order_seq_cst);
}

void refresh_preempt_hint() {
  if (!gort::detail::preempt_hint.load(std::memory_order_relaxed)) return;  // the setters set it
  // Clear, then look: a flag set meanwhile either is seen here or sets the hint after this
  // store (all seq_cst), so a flagged goroutine never has the hint clear for long.
  gort::detail::preempt_hint.store(false, std::memory_order_seq_cst);
  int32_t procs = sched.nprocs.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++) {
    p* pp = sched.allp[i];
    if (pp == nullptr) continue;
    m* mp = pp->mp.load(std::memory_order_acquire);
    g* gp = mp != nullptr ? mp->curg.load(std::memory_order_acquire) : nullptr;
    if (gp != nullptr && gp->preempt.load(std::memory_order_seq_cst)) {
      gort::detail::preempt_hint.store(true, std::memory_order_seq_cst);
      return;
    }
  }
}

// Used by syscall.cpp's slow exit: the goroutine goes to the global queue, the M to g0.
void leave_to_global_queue(g* gp) { leave(current_m(), gp, hook_runnable_global, nullptr, false); }

}  // namespace gort::rt

namespace gort::detail {
// Every unlock reads it: aligned so that it starts a cache line, after no hot variable.
alignas(64) std::atomic<bool> preempt_hint{false};
void preempt_point() { rt::check_preempt(); }
}  // namespace gort::detail
