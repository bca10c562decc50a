// fork_test: a gort program that forks (src/sched/fork.hpp). A child forked between runs
// runs goroutines, timers and network I/O in its own gort::run, and accepts on a listener
// it inherited (prefork); a child forked during a run by the main goroutine can return
// from main and run again; a child forked during a run that tries to schedule goroutines
// dies with a fatal error instead of hanging; a child forked while another thread held
// one of the runtime's locks finds it free, and the fork takes those locks in the order
// the runtime nests them; the parent is unaffected throughout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "gort/gort.hpp"
#include "net/poll_desc.hpp"
#include "sched/netpoll.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"
#include "sched/symbolize.hpp"
#include "sync/sema.hpp"

using namespace std::chrono_literals;

namespace rt = gort::rt;

namespace {

struct child_result {
  int status = -1;     // waitpid's
  std::string stderr_text;
  bool exited_with(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
};

// Forks; the child runs `body` with its stderr into a pipe, and exits with what it returns
// (an alarm kills a child that hangs). The parent collects the child's stderr and status;
// `in_run`: the parent is a goroutine, so its blocking calls go through gort::syscall.
child_result fork_child(const std::function<int()>& body, bool in_run) {
  child_result r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2";
    return r;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    alarm(30);
    int rc = body();
    std::fflush(nullptr);
    _exit(rc);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    ADD_FAILURE() << "fork";
    return r;
  }
  auto blocking = [&](auto f) { return in_run ? gort::syscall(f) : f(); };
  char buf[4096];
  for (;;) {
    ssize_t n = blocking([&] { return read(fds[0], buf, sizeof buf); });
    if (n <= 0) break;
    r.stderr_text.append(buf, size_t(n));
  }
  close(fds[0]);
  blocking([&] { return waitpid(pid, &r.status, 0); });
  return r;
}

// In a goroutine: dials `address`, where `ln` listens, and writes `text`; true when the
// connection ln accepted (in another goroutine) read exactly that. A failed dial closes ln.
bool dial_and_accept(gort::net::listener& ln, const std::string& address, std::string_view text) {
  std::string got;
  gort::sync::wait_group accepted;  // ends before the caller does: no zombie holds a socket
  accepted.go([&] {
    auto [s, err] = ln.accept();
    std::string b(text.size(), '\0');
    size_t n = 0;
    while (!err && n < b.size()) {
      auto [k, rerr] = s.read(std::span<char>(b.data() + n, b.size() - n));
      if (rerr) break;
      n += k;
    }
    got = b.substr(0, n);
  });
  auto [c, err] = gort::net::dial("tcp", address);
  bool sent = !err && !c.write(text).second;
  if (err) ln.close();  // the accepting goroutine returns with an error
  accepted.wait();
  return sent && got == text;
}

// A run with sysmon's retake of a P stuck in a blocking call, goroutines on every P, a
// channel hand-off, timers and a loopback echo: returns 0 when all of it worked.
int busy_run() {
  return gort::run([] {
    // One P, held by a goroutine blocked in a call for 300 ms: only sysmon retaking the P
    // lets another goroutine run meanwhile.
    gort::gomaxprocs(1);
    std::atomic<bool> blocked_done{false};
    gort::go([&] {
      gort::syscall([] { return usleep(300'000); });
      blocked_done = true;
    });
    gort::yield();
    auto ran = gort::make_chan<bool>();
    gort::go([&] { ran.send(!blocked_done.load()); });
    if (!ran.recv()) return 5;
    gort::gomaxprocs(4);
    std::atomic<int> sum{0};
    gort::sync::wait_group wg;
    for (int i = 1; i <= 100; i++) {
      wg.add(1);
      gort::go([&, i] {
        gort::time::sleep(1ms);
        sum.fetch_add(i);
        wg.done();
      });
    }
    wg.wait();
    if (sum.load() != 5050) return 1;
    auto [ln, err] = gort::net::listen("tcp", "127.0.0.1:0");
    if (err) return 0;  // no loopback here: the rest already ran
    return dial_and_accept(ln, ln.address().string(), "hello") ? 0 : 2;
  });
}

}  // namespace

TEST(Fork, ChildForkedBetweenRunsRunsItsOwn) {
  ASSERT_EQ(busy_run(), 0);  // the runtime's threads exist in the parent
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  // 42: gort::run returned (a run that cannot end cleanly exits the process instead).
  child_result r = fork_child([] { return busy_run() == 0 ? 42 : 1; }, false);
  EXPECT_TRUE(r.exited_with(42)) << "status " << r.status << "\n" << r.stderr_text;
  EXPECT_EQ(busy_run(), 0);  // and the parent goes on
}

namespace {

// A run whose 300 goroutines each park on a stack of their own and then end: more stacks
// than a P's cache holds, and more ended Gs than a P's free list. 0 when it worked.
int run_parking_goroutines() {
  return gort::run([] {
    gort::sync::wait_group started, release, finished;
    release.add(1);
    constexpr int kGoroutines = 300;  // each parked on a stack of its own
    started.add(kGoroutines);
    finished.add(kGoroutines);
    for (int i = 0; i < kGoroutines; i++)
      gort::go([&] {
        started.done();
        release.wait();
        finished.done();  // main's wait groups outlive every use
      });
    started.wait();
    release.done();
    finished.wait();
    return 0;
  });
}

// Listens on a loopback port in a run of its own (the listener outlives the run); false
// where there is no loopback.
bool listen_on_loopback(gort::net::listener& ln, std::string& address) {
  gort::run([&] {
    auto [l, err] = gort::net::listen("tcp", "127.0.0.1:0");
    ln = l;
    address = err ? "" : ln.address().string();
    return 0;
  });
  return !address.empty();
}

// Forks while another thread holds the lock(s) that `lock` takes, for 100 ms, and returns
// what the child made of `child_body`. The fork waits for the locks, so the child finds
// them free; without that it would wait for ever on a lock whose holder did not come
// along (until fork_child's alarm ends it).
child_result fork_while_held(const std::function<void()>& lock, const std::function<void()>& unlock,
                             const std::function<int()>& child_body = run_parking_goroutines) {
  std::atomic<bool> held{false};
  std::thread holder([&] {
    lock();
    held = true;
    std::this_thread::sleep_for(100ms);
    unlock();
  });
  while (!held) std::this_thread::yield();
  child_result r = fork_child(child_body, false);
  holder.join();
  return r;
}

}  // namespace

TEST(Fork, ChildForkedWhileAnotherThreadHeldTheStackPoolGetsStacks) {
  ASSERT_EQ(gort::run([] { return 0; }), 0);  // the runtime's fork handlers are installed
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  // The pool's locks, as a P taking or giving back stacks holds them.
  child_result r = fork_while_held(rt::stack_pool_fork_prepare, rt::stack_pool_fork_after);
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
}

// The same with the global free list of Gs, which a P takes when it gives ended Gs back.
TEST(Fork, ChildForkedWhileAnotherThreadHeldTheGFreeListEndsGoroutines) {
  ASSERT_EQ(gort::run([] { return 0; }), 0);
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  child_result r = fork_while_held([] { rt::sched.gflock.lock(); }, [] { rt::sched.gflock.unlock(); });
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
}

// The runtime services' locks (on_fork in sched/fork.hpp), each held by another thread
// across the fork; the child's run then uses that service. Time channels: the registry's
// lock and every live timer's (here one the parent made in a run, whose lock the child's
// run-end hook takes).
TEST(Fork, ChildForkedWhileAnotherThreadHeldTheTimersLocksUsesTimers) {
  std::optional<gort::time::timer> parents;
  ASSERT_EQ(gort::run([&] {
              parents.emplace(1h);
              return 0;
            }),
            0);
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  child_result r = fork_while_held(gort::time::detail::lock_timers_for_fork,
                                   gort::time::detail::unlock_timers_after_fork, [] {
                                     return gort::run([] {
                                       gort::time::timer t(1ms);
                                       t.c.recv();
                                       gort::time::ticker tick(1ms);
                                       tick.c.recv();
                                       tick.c.recv();
                                       tick.stop();
                                       return 0;
                                     });
                                   });
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
}

// sync.Pool: the registry's lock and every pool's caches' (here a pool the parent filled).
TEST(Fork, ChildForkedWhileAnotherThreadHeldThePoolsLocksUsesPools) {
  gort::sync::pool<int> parents;
  ASSERT_EQ(gort::run([&] {
              parents.put(std::make_unique<int>(1));  // the P's private slot
              parents.put(std::make_unique<int>(2));  // its shared list, under its lock
              return 0;
            }),
            0);
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  child_result r = fork_while_held(gort::sync::detail::lock_pools_for_fork,
                                   gort::sync::detail::unlock_pools_after_fork, [&] {
                                     return gort::run([&] {
                                       for (int i = 0; i < 2; i++)
                                         if (auto x = parents.get(); x && *x != 1 && *x != 2) return 1;
                                       gort::sync::pool<int> fresh;
                                       fresh.put(std::make_unique<int>(7));
                                       fresh.put(std::make_unique<int>(8));
                                       auto a = fresh.get(), b = fresh.get();
                                       return a && b && *a + *b == 15 ? 0 : 2;
                                     });
                                   });
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
}

// The poller: the descriptor cache's lock and every descriptor's (here the listener the
// child inherits and accepts on; its new connections come from the cache).
TEST(Fork, ChildForkedWhileAnotherThreadHeldThePollersLocksUsesSockets) {
  gort::net::listener ln;
  std::string address;
  if (!listen_on_loopback(ln, address)) GTEST_SKIP() << "no loopback";
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  child_result r = fork_while_held(rt::lock_poll_descs_for_fork, rt::unlock_poll_descs_after_fork, [&] {
    return gort::run([&] { return dial_and_accept(ln, address, "hi") ? 0 : 1; });
  });
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
  ln.close();
}

// The poller's waiter count: a thread between a slot's update and the count's at the fork
// (here the count made one too low by hand) leaves the child's count wrong, and a count of
// zero with a goroutine waiting on the poller makes checkdead call it a deadlock. The
// child counts the waiters in the slots again.
TEST(Fork, ChildForkedWhileThePollersCountWasHalfUpdatedCountsItsWaiters) {
  ASSERT_EQ(gort::run([] { return 0; }), 0);  // the runtime's fork handlers are installed
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  rt::netpoll_waiters.fetch_sub(1);
  child_result r = fork_child(
      [] {
        return gort::run([] {
          auto [ln, err] = gort::net::listen("tcp", "127.0.0.1:0");
          if (err) return 0;  // no loopback here
          for (int i = 0; i < 3; i++)
            if (!dial_and_accept(ln, ln.address().string(), "waited")) return 1;
          return 0;
        });
      },
      false);
  rt::netpoll_waiters.fetch_add(1);
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
}

// The symboliser's lock is not held across fork (a goroutine dump holds it under allglock,
// and a first lookup for a long time): a forked child makes its own handle. A thread
// symbolises in a loop, so most of twenty forks find its lock held; each child symbolises.
TEST(Fork, ChildForkedWhileAnotherThreadSymbolisesSymbolises) {
#if defined(GORT_ASAN)
  // GCC 12's ASan does not hold its allocator's locks across fork: a child forked while the
  // symbolising thread is inside malloc waits for ever on the allocator (gdb shows it).
  GTEST_SKIP() << "ASan's malloc is not fork-safe here";
#endif
  const auto pc = reinterpret_cast<uintptr_t>(&run_parking_goroutines) + 1;
  ASSERT_NE(rt::symbolize(pc).function, "?");
  std::atomic<bool> stop{false};
  std::thread symboliser([&] {
    while (!stop) rt::symbolize(pc);
  });
  for (int i = 0; i < 20; i++) {
    child_result r = fork_child([pc] { return rt::symbolize(pc).function == "?" ? 1 : 0; }, false);
    if (!r.exited_with(0)) {
      ADD_FAILURE() << "fork " << i << ": status " << r.status << ": " << r.stderr_text;
      break;
    }
  }
  stop = true;
  symboliser.join();
}

// sync.Map's reclamation: a child forked while another thread was inside a read section
// (here a key compare that sleeps there, which real ones must not do) closes that section,
// so the child's grace periods do not wait for a thread that did not come along: the
// destructor of a map that retired values (a grace period to the end) returns.
std::atomic<bool> slow_equal_armed{false}, slow_equal_inside{false};

struct slow_equal {
  bool operator()(int a, int b) const {
    if (slow_equal_armed.load()) {
      slow_equal_inside = true;
      std::this_thread::sleep_for(300ms);
    }
    return a == b;
  }
};

TEST(Fork, ChildForkedWhileAnotherThreadReadsASyncMapReclaims) {
  ASSERT_EQ(gort::run([] { return 0; }), 0);  // the runtime's fork handlers are installed
  gort::sync::map<int, int, std::hash<int>, slow_equal> shared;
  shared.store(1, 1);
  for (int i = 0; i < 3; i++) ASSERT_EQ(shared.load(1), 1);  // promoted: lock-free reads
  slow_equal_armed = true;
  std::thread reader([&] { (void)shared.load(1); });  // sleeps inside its read section
  while (!slow_equal_inside) std::this_thread::yield();
  child_result r = fork_child(
      [] {
        {
          gort::sync::map<int, int> m;
          for (int i = 0; i < 100; i++) {
            m.store(i, i);
            m.erase(i);
          }
        }  // ~map: a grace period
        return 0;
      },
      false);
  reader.join();
  slow_equal_armed = false;
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.stderr_text;
}

// Run-end hooks take their services' locks (semaphore roots here), which a fork takes
// before sched.lock, so they run without sched.lock. A hook takes the roots 50 ms after it
// starts, while another thread forks: were the hooks called under sched.lock, the fork
// (holding the roots, waiting for sched.lock) and the hook (holding sched.lock, waiting
// for a root) would wait on each other for ever, and the alarm would end the child.
std::atomic<int> run_end_probe{0};  // 1: armed; 2: the hook has started

TEST(Fork, ForkWhileARunEndsWaitsForNoRunEndHook) {
  static const bool hooked = (rt::on_run_end([] {
                                int armed = 1;
                                if (!run_end_probe.compare_exchange_strong(armed, 2)) return;
                                std::this_thread::sleep_for(50ms);
                                rt::semtable_lock_all();
                                rt::semtable_unlock_all();
                              }),
                              true);
  ASSERT_TRUE(hooked);
  ASSERT_EQ(gort::run([] { return 0; }), 0);  // the runtime's fork handlers are installed
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  child_result r = fork_child(
      [] {
        run_end_probe = 1;
        std::thread forker([] {
          while (run_end_probe.load() != 2) std::this_thread::yield();
          pid_t pid = fork();
          if (pid == 0) _exit(0);
          int st = 0;
          waitpid(pid, &st, 0);
        });
        int rc = gort::run([] { return 0; });
        forker.join();
        return rc;
      },
      false);
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << "\n" << r.stderr_text;
}

// The prefork pattern: a listener made in one run, a worker forked after it accepts in
// its own run. The child's new epoll instance has the inherited listener registered.
TEST(Fork, WorkerForkedBetweenRunsAcceptsOnAnInheritedListener) {
  gort::net::listener ln;
  std::string address;
  ASSERT_TRUE(listen_on_loopback(ln, address));
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(30);
    int rc = gort::run([&] {
      auto [c, err] = ln.accept();  // parks on the poller until the parent dials
      if (err) return 1;
      return c.write(std::string_view("hi")).second ? 2 : 42;
    });
    std::fflush(nullptr);
    _exit(rc);
  }
  ASSERT_GT(pid, 0);
  std::string got;
  gort::run([&] {
    gort::time::sleep(20ms);  // the worker is parked in accept by now, most likely
    auto [c, err] = gort::net::dial("tcp", address);
    ASSERT_FALSE(err) << err.message();
    c.set_read_deadline(std::chrono::steady_clock::now() + 10s);  // a lost worker: no hang
    char b[2];
    size_t n = 0;
    while (n < sizeof b) {
      auto [k, rerr] = c.read(std::span<char>(b + n, sizeof b - n));
      if (rerr) break;
      n += k;
    }
    got.assign(b, n);
  });
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << "status " << status;
  EXPECT_EQ(got, "hi");
  ln.close();
}

// The order the fork's prepare handler takes its locks in. A goroutine parking on a
// semaphore holds its root's lock until the park commits, and may take sched.lock before
// that, to pick the next goroutine (fast_pick). Here a thread does the same, slowly: it
// holds every root's lock, and 50 ms later takes sched.lock, while another thread forks.
// The prepare handler must wait for the roots before it takes sched.lock; the other way
// round, each thread waits on the other for ever (and the alarm ends the child).
TEST(Fork, ForkTakesSemaphoreLocksBeforeTheSchedulerLock) {
  ASSERT_EQ(gort::run([] { return 0; }), 0);  // the runtime's fork handlers are installed
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  child_result r = fork_child(
      [] {
        std::atomic<bool> holding{false};
        std::thread parker([&] {
          rt::semtable_lock_all();
          holding = true;
          std::this_thread::sleep_for(50ms);
          rt::sched.lock.lock();
          rt::sched.lock.unlock();
          rt::semtable_unlock_all();
        });
        while (!holding) std::this_thread::yield();
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        int st = 0;
        waitpid(pid, &st, 0);
        parker.join();
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
      },
      false);
  EXPECT_TRUE(r.exited_with(0)) << "status " << r.status << "\n" << r.stderr_text;
}

TEST(Fork, MainForkedDuringARunReturnsAndRunsAgain) {
  int rc = gort::run([] {
    // Goroutines keep the other Ps busy while main forks; the child only exits.
    std::atomic<bool> stop{false};
    gort::sync::wait_group wg;
    for (int i = 0; i < 3; i++) wg.go([&] {
      while (!stop.load()) gort::yield();
    });
    gort::time::sleep(5ms);
    child_result r = fork_child([] { return 0; }, true);
    EXPECT_TRUE(r.exited_with(0)) << r.status;
    stop = true;
    wg.wait();
    return 0;
  });
  ASSERT_EQ(rc, 0);
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#endif
  // The fork happens on m0, as the first thing main does, while the idle Ms of earlier
  // runs exist; the child's main returns 7 from gort::run and its next run works.
  child_result r = fork_child(
      [] {
        int first = gort::run([] {
          // Nothing has parked main yet: it runs on the thread that called gort::run.
          if (!gort::rt::current_m()->is_m0) return 99;
          pid_t pid = fork();
          if (pid != 0) {  // the grandparent's child waits for its own child and exits
            int st = 0;
            gort::syscall([&] { return waitpid(pid, &st, 0); });
            std::fflush(nullptr);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
          }
          return 7;
        });
        if (first != 7) return 10 + first;
        return busy_run() == 0 ? 42 : 1;
      },
      false);
  EXPECT_TRUE(r.exited_with(42)) << "status " << r.status << "\n" << r.stderr_text;
}

// A stress of the fork handlers: goroutines on every P use the runtime's services (time
// channels, sync.Pool, sync.Map's reclamation, the semaphores under a contended mutex,
// loopback sockets) while main forks; the child's main returns and its next run uses the
// same services (and the same pool). Any runtime lock a lost thread held across the fork
// would hang that run (until the alarm), a count it left half-updated could make it a
// false deadlock. The maps and mutexes are each run's own: a program object a lost
// goroutine was changing (a mutex it held) stays as it was, as with pthreads. Ten rounds
// of five forks.
gort::sync::pool<int> stressed_pool;

struct services {
  gort::sync::map<int, int> map;
  gort::sync::mutex mu;
  int guarded = 0;
};

// In a goroutine: one round of each service; false if one misbehaved.
bool use_services(int salt, services& sv) {
  gort::time::timer t(std::chrono::microseconds(50));
  t.c.recv();
  stressed_pool.put(std::make_unique<int>(salt));
  if (auto x = stressed_pool.get(); x && *x < 0) return false;
  sv.map.store(salt % 64, salt);
  (void)sv.map.load((salt + 1) % 64);
  sv.map.erase((salt + 2) % 64);
  sv.mu.lock();
  sv.guarded++;
  sv.mu.unlock();
  return true;
}

TEST(ForkStress, ChildForkedWhileGoroutinesUseEveryServiceRunsAgain) {
  ASSERT_EQ(gort::run([] { return 0; }), 0);  // the runtime's fork handlers are installed
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan does not let a forked child of a threaded program start threads";
#elif defined(GORT_ASAN)
  // The goroutines allocate all the time, and GCC 12's ASan does not hold its allocator's
  // locks across fork (see ChildForkedWhileAnotherThreadSymbolisesSymbolises).
  GTEST_SKIP() << "ASan's malloc is not fork-safe here";
#endif
  for (int round = 0; round < 10; round++) {
    child_result r = fork_child(
        [] {
          int first = gort::run([] {
            gort::lock_os_thread();  // main stays on the thread that called gort::run
            std::atomic<bool> stop{false};
            services sv;
            gort::net::listener ln;
            auto [l, lerr] = gort::net::listen("tcp", "127.0.0.1:0");
            ln = l;
            gort::sync::wait_group wg;
            for (int i = 0; i < 4; i++)
              wg.go([&, i] {
                for (int k = 0; !stop.load(); k++)
                  if (!use_services(i * 1000 + k, sv)) return;
              });
            if (!lerr)
              wg.go([&] {
                while (!stop.load()) {
                  auto [c, err] = gort::net::dial("tcp", ln.address().string());
                  if (err) return;
                  c.set_read_deadline(std::chrono::steady_clock::now() + 1s);
                }
              });
            int failed = 0;
            for (int f = 0; f < 5; f++) {
              gort::time::sleep(5ms);
              pid_t pid = fork();
              if (pid == 0) {  // the child: its main returns at once
                alarm(20);     // (an alarm is not inherited)
                return 7;
              }
              int st = 0;
              gort::syscall([&] { return waitpid(pid, &st, 0); });
              if (!WIFEXITED(st) || WEXITSTATUS(st) != 42) {
                std::fprintf(stderr, "fork %d: status %d\n", f, st);
                failed++;
              }
            }
            stop = true;
            ln.close();
            wg.wait();
            std::fflush(nullptr);
            _exit(failed == 0 ? 42 : 3);
          });
          if (first != 7) return 10 + first;
          int second = gort::run([] {
            services sv;
            for (int k = 0; k < 100; k++)
              if (!use_services(k, sv)) return 1;
            gort::net::listener ln;
            std::string address;
            auto [l, err] = gort::net::listen("tcp", "127.0.0.1:0");
            if (err) return 0;
            ln = l;
            return dial_and_accept(ln, ln.address().string(), "again") ? 0 : 2;
          });
          return second == 0 ? 42 : 20 + second;
        },
        false);
    ASSERT_TRUE(r.exited_with(42)) << "round " << round << ": status " << r.status << "\n" << r.stderr_text;
  }
}

// The parent's goroutines never run in a child forked during a run, and a child that
// would need them (or any other goroutine) to run dies with a fatal error, not a hang.
TEST(Fork, SchedulingInAChildForkedDuringARunIsFatal) {
  gort::run([] {
    std::atomic<bool> stop{false};
    std::atomic<int> ran_in_child{0};
    gort::sync::wait_group wg;
    for (int i = 0; i < 3; i++) wg.go([&] {
      while (!stop.load()) gort::yield();
    });
    auto never = gort::make_chan<int>();
    gort::go([&] {
      never.recv();
      ran_in_child++;  // only in a child, if a ready from the parent's past leaked in
    });
    gort::time::sleep(5ms);
    struct misuse {
      const char* name;
      std::function<void(gort::chan<int>&)> f;
    };
    misuse cases[] = {
        {"receive", [](gort::chan<int>&) { gort::make_chan<int>().recv(); }},
        {"sleep", [](gort::chan<int>&) { gort::time::sleep(1ms); }},
        {"yield", [](gort::chan<int>&) { gort::yield(); }},
        {"ready the parent's goroutine", [](gort::chan<int>& c) {
           c.send(1);  // hands the value to the parked receiver, then...
           gort::yield();
         }},
    };
    for (auto& m : cases) {
      child_result r = fork_child(
          [&] {
            m.f(never);
            return ran_in_child.load() == 0 ? 0 : 3;
          },
          true);
#if defined(GORT_TSAN)
      // The dump runs on a thread of its own (a big stack), which TSan kills in a forked
      // child: the message is out, the exit status is TSan's.
      EXPECT_FALSE(r.exited_with(0)) << m.name << ": status " << r.status << "\n" << r.stderr_text;
#else
      EXPECT_TRUE(r.exited_with(2)) << m.name << ": status " << r.status << "\n" << r.stderr_text;
#endif
      EXPECT_NE(r.stderr_text.find("fatal error: fork without exec: a forked child cannot schedule goroutines\n"),
                std::string::npos)
          << m.name << ":\n" << r.stderr_text;
    }
    // A child that only makes blocking calls and exits is fine, even when the parent's
    // sysmon had asked the forking goroutine to yield (it ran 30 ms without a safe point).
    for (auto until = std::chrono::steady_clock::now() + 30ms; std::chrono::steady_clock::now() < until;) {
    }
    child_result r = fork_child(
        [] {
          gort::syscall([] { return getpid(); });
          return 5;
        },
        true);
    EXPECT_TRUE(r.exited_with(5)) << r.status << "\n" << r.stderr_text;
    stop = true;
    wg.wait();
    never.send(0);
  });
  EXPECT_EQ(busy_run(), 0);
}
