// context_test: gort::context (Go: package context) and gort::error (Go: errors).
//
// Checked: background/todo are never cancelled; cancel closes done() exactly once and sets
// err() to context::canceled, idempotently; cancellation reaches every descendant (through
// value nodes too) and never the parent; a child of a cancelled parent is born cancelled; a
// cancelled or dropped child leaves its parent's registry; deadlines fire with
// deadline_exceeded (a timeout), are capped by the parent's, fire at once when already past,
// and their timers are stopped on cancel; values resolve through the chain by typed key and
// are destroyed once; without_cancel keeps values only; after_func runs once in a goroutine
// unless stopped; cause(); the nil-parent panic; a tree of many goroutines blocked in select
// on done() all wake and leave no goroutine or timer behind; a cancel preempted while it
// starts an after_func goroutine holds no lock another goroutine then waits for.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/sched.hpp"  // timers left in the P heaps, goroutine ids

using namespace std::chrono_literals;
namespace ctx = gort::context;

namespace {

bool is_closed(const gort::recv_chan<std::monostate>& c) {
  if (c == nullptr) return false;
  return gort::select(gort::case_recv(c), gort::case_default()) == 0;
}

size_t timers_in_heaps() {
  size_t n = 0;
  int procs = gort::rt::sched.gomaxprocs.load();
  for (int i = 0; i < procs; i++) {
    gort::rt::p* pp = gort::rt::sched.allp[i];
    gort::os::rt_lock_guard lk(pp->timers_lock);
    n += pp->timers.size();
  }
  return n;
}

TEST(Error, IdentityWrapIsAndAs) {
  gort::error nil;
  EXPECT_FALSE(nil);
  EXPECT_EQ(nil.message(), "<nil>");
  auto a = gort::errors::make("boom"), b = gort::errors::make("boom");
  EXPECT_TRUE(a);
  EXPECT_EQ(a.message(), "boom");
  EXPECT_FALSE(a == b) << "errors.New values are distinct even with equal text";
  auto w = gort::errors::wrap(a, "loading");
  EXPECT_EQ(w.message(), "loading: boom");
  EXPECT_TRUE(gort::errors::is(w, a));
  EXPECT_FALSE(gort::errors::is(w, b));
  EXPECT_EQ(w.unwrap(), a);
  EXPECT_FALSE(gort::errors::wrap(nullptr, "x"));
  EXPECT_TRUE(gort::errors::wrap(ctx::deadline_exceeded, "rpc").timeout());
  EXPECT_NE(gort::errors::as<gort::error_value>(w), nullptr);
}

TEST(Context, BackgroundAndTodoAreNeverCancelled) {
  EXPECT_EQ(ctx::background().done(), nullptr);
  EXPECT_FALSE(ctx::background().err());
  EXPECT_FALSE(ctx::todo().deadline());
  EXPECT_EQ(ctx::background().string(), "context.Background");
  EXPECT_EQ(ctx::todo().string(), "context.TODO");
}

TEST(Context, CancelClosesDoneOnceAndSetsErr) {
  gort::run([] {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    auto d = c.done();
    EXPECT_EQ(d, c.done()) << "one channel, created on first use";
    EXPECT_FALSE(is_closed(d));
    EXPECT_FALSE(c.err());
    cancel();
    EXPECT_TRUE(is_closed(d));
    EXPECT_EQ(c.err(), ctx::canceled);
    EXPECT_EQ(c.err().message(), "context canceled");
    cancel();  // idempotent: closing twice would panic
    EXPECT_EQ(c.err(), ctx::canceled);
    EXPECT_EQ(c.string(), "context.Background.WithCancel");
  });
}

TEST(Context, DoneAfterCancelIsAlreadyClosed) {
  gort::run([] {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    cancel();
    EXPECT_TRUE(is_closed(c.done()));
  });
}

TEST(Context, CancellationReachesDescendantsNotAncestors) {
  gort::run([] {
    static const ctx::key<int> k("k");
    auto [root, cancel_root] = ctx::with_cancel(ctx::background());
    auto [mid, cancel_mid] = ctx::with_cancel(ctx::with_value(root, k, 1));
    auto [leaf, cancel_leaf] = ctx::with_cancel(ctx::with_value(mid, k, 2));
    auto [sib, cancel_sib] = ctx::with_cancel(root);
    cancel_mid();
    EXPECT_EQ(mid.err(), ctx::canceled);
    EXPECT_EQ(leaf.err(), ctx::canceled) << "a descendant through a value node";
    EXPECT_FALSE(root.err()) << "cancellation never goes up";
    EXPECT_FALSE(sib.err());
    cancel_root();
    EXPECT_EQ(sib.err(), ctx::canceled);
    EXPECT_TRUE(is_closed(sib.done()));
    cancel_leaf();
    cancel_sib();
  });
}

TEST(Context, ChildOfCancelledParentIsBornCancelled) {
  gort::run([] {
    auto [p, cancel] = ctx::with_cancel(ctx::background());
    cancel();
    auto [c, cancel_c] = ctx::with_cancel(p);
    EXPECT_EQ(c.err(), ctx::canceled);
    EXPECT_TRUE(is_closed(c.done()));
    auto [t, cancel_t] = ctx::with_timeout(p, 1h);
    EXPECT_EQ(t.err(), ctx::canceled);
    EXPECT_EQ(ctx::detail::registered_children(p), 0u);
    cancel_c();
    cancel_t();
  });
}

TEST(Context, CancelledAndDroppedChildrenLeaveTheParent) {
  gort::run([] {
    auto [p, cancel] = ctx::with_cancel(ctx::background());
    std::vector<ctx::cancel_func> cancels;
    for (int i = 0; i < 1000; i++) cancels.push_back(ctx::with_cancel(p).second);
    EXPECT_EQ(ctx::detail::registered_children(p), 1000u);
    for (auto& c : cancels) c();
    EXPECT_EQ(ctx::detail::registered_children(p), 0u) << "cancelled children detach";
    {
      auto child = ctx::with_cancel(p);  // dropped without cancel: its destructor detaches
      EXPECT_EQ(ctx::detail::registered_children(p), 1u);
    }
    EXPECT_EQ(ctx::detail::registered_children(p), 0u);
    cancel();
  });
}

TEST(Context, DeadlineFiresWithDeadlineExceeded) {
  gort::run([] {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), 5ms);
    ASSERT_TRUE(c.deadline());
    c.done().recv();
    EXPECT_GE(gort::time::now(), *c.deadline()) << "never before the deadline";
    EXPECT_EQ(c.err(), ctx::deadline_exceeded);
    EXPECT_TRUE(c.err().timeout());
    EXPECT_EQ(c.err().message(), "context deadline exceeded");
    EXPECT_EQ(ctx::cause(c), ctx::deadline_exceeded);
    cancel();
    EXPECT_EQ(c.err(), ctx::deadline_exceeded) << "the first cancellation wins";
  });
}

TEST(Context, DeadlineIsCappedByTheParentsAndPastDeadlinesFireAtOnce) {
  gort::run([] {
    auto [p, cancel_p] = ctx::with_timeout(ctx::background(), 1h);
    auto [c, cancel_c] = ctx::with_timeout(p, 2h);
    EXPECT_EQ(c.deadline(), p.deadline()) << "a later deadline than the parent's is moot";
    auto [past, cancel_past] = ctx::with_deadline(p, gort::time::now() - 1s);
    EXPECT_EQ(past.err(), ctx::deadline_exceeded);
    EXPECT_TRUE(is_closed(past.done()));
    cancel_c();
    cancel_past();
    cancel_p();
  });
}

TEST(Context, CancelStopsTheDeadlineTimer) {
  gort::run([] {
    size_t before = timers_in_heaps();
    auto [c, cancel] = ctx::with_timeout(ctx::background(), 1h);
    EXPECT_EQ(timers_in_heaps(), before + 1);
    cancel();
    EXPECT_EQ(timers_in_heaps(), before) << "nothing lingers after cancel";
    {
      auto dropped = ctx::with_timeout(ctx::background(), 1h);
      EXPECT_EQ(timers_in_heaps(), before + 1);
    }
    EXPECT_EQ(timers_in_heaps(), before) << "nor after the context is dropped";
  });
}

struct tracked {
  static inline std::atomic<int> live{0};
  std::string s;
  explicit tracked(std::string v) : s(std::move(v)) { live++; }
  tracked(const tracked& o) : s(o.s) { live++; }
  ~tracked() { live--; }
};

TEST(Context, ValuesResolveThroughTheChainByTypedKey) {
  static const ctx::key<std::string> user("user");
  static const ctx::key<int> depth("depth");
  static const ctx::key<tracked> obj("obj");
  {
    auto c1 = ctx::with_value(ctx::background(), user, std::string("ann"));
    auto c2 = ctx::with_value(c1, depth, 1);
    auto [c3, cancel] = ctx::with_cancel(c2);
    auto c4 = ctx::with_value(c3, user, std::string("bob"));  // shadows
    auto c5 = ctx::with_value(c4, obj, tracked("x"));
    ASSERT_NE(c5.value(user), nullptr);
    EXPECT_EQ(*c5.value(user), "bob");
    EXPECT_EQ(*c3.value(user), "ann");
    EXPECT_EQ(*c5.value(depth), 1);
    EXPECT_EQ(c1.value(depth), nullptr);
    EXPECT_EQ(c5.value(obj)->s, "x");
    EXPECT_EQ(tracked::live.load(), 1);
    EXPECT_EQ(c2.string(), "context.Background.WithValue(user).WithValue(depth)");
    cancel();
  }
  EXPECT_EQ(tracked::live.load(), 0) << "values are destroyed once, with their context";
}

TEST(Context, WithoutCancelKeepsValuesOnly) {
  gort::run([] {
    static const ctx::key<int> k("k");
    auto [p, cancel] = ctx::with_timeout(ctx::with_value(ctx::background(), k, 7), 1h);
    auto w = ctx::without_cancel(p);
    cancel();
    EXPECT_FALSE(w.err());
    EXPECT_EQ(w.done(), nullptr);
    EXPECT_FALSE(w.deadline());
    EXPECT_EQ(*w.value(k), 7);
    auto [c, cancel_c] = ctx::with_cancel(w);
    EXPECT_FALSE(c.err()) << "a child of without_cancel does not see the cancellation";
    cancel_c();
  });
}

TEST(Context, AfterFuncRunsOnceInAGoroutineUnlessStopped) {
  gort::run([] {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    auto ran = gort::make_chan<int64_t>(4);
    int64_t main_id = gort::rt::current_g()->goid;
    auto stop_a = ctx::after_func(c, [ran] { ran.send(gort::rt::current_g()->goid); });
    auto stop_b = ctx::after_func(c, [ran] { ran.send(-1); });
    EXPECT_TRUE(stop_b()) << "stopped before cancellation";
    EXPECT_FALSE(stop_b());
    cancel();
    int64_t id = ran.recv();
    EXPECT_NE(id, main_id) << "f runs in a goroutine of its own";
    EXPECT_NE(id, -1);
    EXPECT_FALSE(stop_a()) << "already started";
    cancel();
    gort::time::sleep(1ms);
    EXPECT_EQ(ran.len(), 0u) << "f runs once; a stopped f never";
    // On an already cancelled context f starts at once.
    ctx::after_func(c, [ran] { ran.send(1); });
    EXPECT_EQ(ran.recv(), 1);
  });
}

TEST(Context, CauseIsTheGivenErrorAndInherited) {
  gort::run([] {
    auto why = gort::errors::make("shutting down");
    auto [p, cancel] = ctx::with_cancel_cause(ctx::background());
    auto [c, cancel_c] = ctx::with_cancel(p);
    EXPECT_FALSE(ctx::cause(c));
    cancel(why);
    EXPECT_EQ(p.err(), ctx::canceled);
    EXPECT_EQ(ctx::cause(p), why);
    EXPECT_EQ(ctx::cause(c), why);
    auto [q, cancel_q] = ctx::with_cancel_cause(ctx::background());
    cancel_q(nullptr);
    EXPECT_EQ(ctx::cause(q), ctx::canceled) << "a nil cause means err()";
    cancel_c();
  });
}

TEST(Context, NilParentPanics) {
  try {
    ctx::with_cancel(ctx::context());
    ADD_FAILURE() << "no panic";
  } catch (const gort::panic_error& e) {
    EXPECT_STREQ(e.what(), "cannot create context from nil parent");
  }
}

TEST(Context, PlainThreadWaitsOnDone) {
  gort::run([] {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    std::thread t([d = c.done()] { d.recv(); });
    gort::time::sleep(1ms);
    cancel();
    t.join();
  });
}

TEST(Context, CancellingATreeWakesEveryGoroutineAndLeavesNothing) {
#if defined(GORT_TSAN)
  constexpr int kGoroutines = 2000;  // TSan gives each goroutine ~1 MB of shadow state
#else
  constexpr int kGoroutines = 10000;
#endif
  int woke = 0;
  int64_t goroutines_after = -1;
  size_t timers_after = 1;
  gort::run([&] {
    size_t timers_before = timers_in_heaps();
    auto [root, cancel] = ctx::with_timeout(ctx::background(), 1h);
    std::vector<std::pair<ctx::context, ctx::cancel_func>> mids;
    for (int i = 0; i < 100; i++) mids.push_back(ctx::with_timeout(root, 30min));
    gort::sync::wait_group wg;
    gort::sync::mutex mu;
    auto never = gort::make_chan<int>();
    for (int i = 0; i < kGoroutines; i++) {
      auto [leaf, cancel_leaf] = ctx::with_cancel(mids[size_t(i) % mids.size()].first);
      wg.go([&, leaf = leaf, cancel_leaf = cancel_leaf] {
        gort::select(gort::case_recv(leaf.done(), [&] {
                       std::lock_guard lk(mu);
                       woke++;
                     }),
                     gort::case_recv(never));
        cancel_leaf();
      });
    }
    gort::time::sleep(2ms);
    cancel();
    wg.wait();
    for (auto& [m, c] : mids) c();
    mids.clear();
    // The last goroutines may still be on their way out after their done(): give them
    // time (they must all go; a leak keeps the count up until the deadline).
    auto deadline = gort::time::now() + 5s;
    while (gort::num_goroutine() > 1 && gort::time::now() < deadline) gort::time::sleep(1ms);
    goroutines_after = gort::num_goroutine();
    timers_after = timers_in_heaps() - timers_before;
  });
  EXPECT_EQ(woke, kGoroutines);
  EXPECT_EQ(goroutines_after, 1);
  EXPECT_EQ(timers_after, 0u);
}

}  // namespace

// gort::go is a safe point: sysmon's preemption request is honoured there. A cancel that
// started its after_func goroutines while holding the context's lock yielded with that lock
// held, and with one P a goroutine that then called err() blocked the only thread for good
// (seen as a hang in Net.DialContextCancelAndDeadline under TSan). The request is set by
// hand here, as sysmon sets it after 10 ms; a hang ends by SIGALRM and fails the test.
void cancel_preempted_while_starting_an_after_func() {
  alarm(20);
  gort::gomaxprocs(1);
  gort::run([] {
    auto made = ctx::with_cancel(ctx::background());
    const ctx::context& c = made.first;  // not a structured binding: the lambda below uses it
    gort::sync::wait_group wg;
    wg.add(1);
    auto stop = ctx::after_func(c, [&wg] { wg.done(); });
    bool saw_err = false;
    // Runs as soon as main yields: in the cancel below, or earlier if sysmon preempted
    // main on its own (a loaded machine), in which case it waits for the cancel.
    wg.go([&] {
      while (!c.err()) gort::yield();
      saw_err = c.err() == ctx::canceled;
    });
    gort::rt::current_g()->preempt.store(true, std::memory_order_relaxed);
    made.second();  // cancel
    wg.wait();
    if (!saw_err) std::_Exit(3);
  });
  std::_Exit(0);
}

TEST(ContextDeathTest, CancelPreemptedWhileStartingAnAfterFuncHoldsNoLock) {
  EXPECT_EXIT(cancel_preempted_while_starting_an_after_func(), ::testing::ExitedWithCode(0), "");
}
