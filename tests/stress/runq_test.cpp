// runq_test: the local run queue (sched/runq.cpp) on its own, without a scheduler: fake Gs
// on hand-made Ps, driven by plain threads.
//
// Covers: FIFO order of runqput/runqget, runnext priority (and the old runnext moving to the
// tail), runqsteal taking half of the ring rounded up (n - n/2) from the head, stealing
// runnext only when asked, a full ring spilling half of itself plus the new g to the global
// queue (in order), and a randomised stress run: one owner thread pushing (with and without
// next) and popping, and three thieves stealing from the owner and from one another into
// their own Ps and draining them.
// Invariant checked: every g put is obtained exactly once — by runqget, by runqsteal, or
// from the global queue at the end — none lost, none duplicated.
//
// These tests touch the global run queue (sched.runq/runq_woken/runqsize) under
// sched.lock, so they must run while no gort::run is active (they do: GoogleTest runs
// tests one at a time, and every gort::run empties the global queue when it ends).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "sched/runq.hpp"
#include "sched/runtime2.hpp"

namespace rt = gort::rt;

namespace {

#if defined(GORT_TSAN)
constexpr int kStressRounds = 50;
#else
constexpr int kStressRounds = 200;
#endif
constexpr int kGsPerRound = 10000;

// A pool of fake goroutines, goid i at index i.
struct gpool {
  explicit gpool(int n) {
    gs.reserve(size_t(n));
    for (int i = 0; i < n; i++) {
      gs.push_back(std::make_unique<rt::g>());
      gs.back()->goid = i;
    }
  }
  rt::g* operator[](int i) { return gs[size_t(i)].get(); }
  std::vector<std::unique_ptr<rt::g>> gs;
};

// Pops the whole global run queue (sched.lock held inside): the woken ring, then the FIFO
// ring, each in order.
std::vector<rt::g*> drain_global() {
  std::vector<rt::g*> out;
  rt::sched.lock.lock();
  int32_t size = rt::sched.runqsize.load();
  for (rt::g_ring* r : {&rt::sched.runq_woken, &rt::sched.runq}) {
    while (r->size() > 0) out.push_back(r->pop_front());
    r->clear();
  }
  rt::sched.runqsize.store(0);
  rt::sched.lock.unlock();
  EXPECT_EQ(size_t(size), out.size()) << "sched.runqsize disagrees with the global rings";
  return out;
}

// Makes a fake g look like one that has run (it holds a saved context). Never switched to.
void mark_started(rt::g* gp) {
  static void* fake_context;
  gp->sp = &fake_context;
}

std::vector<rt::g*> drain_local(rt::p* pp) {
  std::vector<rt::g*> out;
  bool inherit;
  while (rt::g* gp = rt::runqget(pp, &inherit)) out.push_back(gp);
  return out;
}

std::vector<int64_t> ids(const std::vector<rt::g*>& v) {
  std::vector<int64_t> out;
  for (rt::g* gp : v) out.push_back(gp->goid);
  return out;
}

std::vector<int64_t> iota_ids(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; i++) out.push_back(i);
  return out;
}

class RunqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(rt::sched.running.load()) << "runq tests need the scheduler at rest";
    ASSERT_EQ(rt::sched.runqsize.load(), 0) << "global run queue not empty before the test";
  }
  void TearDown() override { drain_global(); }
};

TEST_F(RunqTest, PutGetIsFifo) {
  gpool gs(200);
  rt::p pp;
  EXPECT_TRUE(rt::runqempty(&pp));
  bool inherit = true;
  EXPECT_EQ(rt::runqget(&pp, &inherit), nullptr);
  for (int i = 0; i < 200; i++) rt::runqput(&pp, gs[i], false);
  EXPECT_FALSE(rt::runqempty(&pp));
  EXPECT_EQ(rt::runqlen(&pp), 200u);
  for (int i = 0; i < 200; i++) {
    rt::g* gp = rt::runqget(&pp, &inherit);
    ASSERT_NE(gp, nullptr);
    EXPECT_EQ(gp->goid, i);
    EXPECT_FALSE(inherit) << "a g from the ring does not inherit the time slice";
  }
  EXPECT_EQ(rt::runqget(&pp, &inherit), nullptr);
  EXPECT_TRUE(rt::runqempty(&pp));
}

TEST_F(RunqTest, FifoAcrossManyWrapsOfTheRing) {
  rt::p pp;
  bool inherit;
  // Head and tail only grow; the slot is index % 256. Walk them far past one lap, with
  // the queue holding a varying number of gs.
  int64_t next_put = 0, next_get = 0;
  std::mt19937 rng(1);
  std::vector<std::unique_ptr<rt::g>> made;
  for (int step = 0; step < 20000; step++) {
    uint32_t len = uint32_t(next_put - next_get);
    bool put = len == 0 || (len < rt::p::kRunqSize && rng() % 2 == 0);
    if (put) {
      made.push_back(std::make_unique<rt::g>());
      made.back()->goid = next_put++;
      rt::runqput(&pp, made.back().get(), false);
    } else {
      rt::g* gp = rt::runqget(&pp, &inherit);
      ASSERT_NE(gp, nullptr);
      ASSERT_EQ(gp->goid, next_get++);
    }
    ASSERT_EQ(rt::runqlen(&pp), uint32_t(next_put - next_get));
  }
  EXPECT_EQ(rt::sched.runqsize.load(), 0) << "never full, so nothing spilled";
}

TEST_F(RunqTest, RunnextComesFirstAndInheritsTheTimeSlice) {
  gpool gs(10);
  rt::p pp;
  bool inherit = false;
  rt::runqput(&pp, gs[0], false);
  rt::runqput(&pp, gs[1], false);
  rt::runqput(&pp, gs[2], true);
  EXPECT_EQ(rt::runqlen(&pp), 3u);
  rt::g* gp = rt::runqget(&pp, &inherit);
  ASSERT_NE(gp, nullptr);
  EXPECT_EQ(gp->goid, 2);
  EXPECT_TRUE(inherit);
  EXPECT_EQ(ids(drain_local(&pp)), (std::vector<int64_t>{0, 1}));

  // A second put with next kicks the old runnext to the tail of the ring.
  rt::runqput(&pp, gs[3], false);
  rt::runqput(&pp, gs[4], true);
  rt::runqput(&pp, gs[5], true);
  EXPECT_EQ(pp.runnext.load(), gs[5]);
  EXPECT_EQ(ids(drain_local(&pp)), (std::vector<int64_t>{5, 3, 4}));

  // Only runnext set: the queue is not empty.
  rt::runqput(&pp, gs[6], true);
  EXPECT_FALSE(rt::runqempty(&pp));
  EXPECT_EQ(rt::runqlen(&pp), 1u);
  gp = rt::runqget(&pp, &inherit);
  EXPECT_EQ(gp, gs[6]);
  EXPECT_TRUE(inherit);
  EXPECT_TRUE(rt::runqempty(&pp));
}

TEST_F(RunqTest, StealTakesHalfRoundedUpFromTheHead) {
  for (int n = 1; n <= int(rt::p::kRunqSize); n++) {
    gpool gs(n);
    rt::p victim, thief;
    for (int i = 0; i < n; i++) rt::runqput(&victim, gs[i], false);
    int want = n - n / 2;
    rt::g* gp = rt::runqsteal(&thief, &victim, false);
    ASSERT_NE(gp, nullptr) << "n=" << n;
    ASSERT_EQ(rt::runqlen(&thief), uint32_t(want - 1)) << "n=" << n;
    ASSERT_EQ(rt::runqlen(&victim), uint32_t(n / 2)) << "n=" << n;
    // The thief got the oldest `want` gs: one returned, the rest in its queue in order.
    std::vector<int64_t> stolen = ids(drain_local(&thief));
    stolen.push_back(gp->goid);
    std::sort(stolen.begin(), stolen.end());
    ASSERT_EQ(stolen, iota_ids(0, want)) << "n=" << n;
    ASSERT_EQ(ids(drain_local(&victim)), iota_ids(want, n)) << "n=" << n;
  }
}

TEST_F(RunqTest, StealRunnextOnlyWhenAsked) {
  gpool gs(3);
  rt::p victim, thief;
  rt::runqput(&victim, gs[0], true);
  EXPECT_EQ(rt::runqsteal(&thief, &victim, false), nullptr);
  EXPECT_EQ(rt::runqlen(&victim), 1u);
  EXPECT_EQ(rt::runqsteal(&thief, &victim, true), gs[0]);
  EXPECT_TRUE(rt::runqempty(&victim));
  EXPECT_TRUE(rt::runqempty(&thief));
  EXPECT_EQ(rt::runqsteal(&thief, &victim, true), nullptr);

  // With gs in the ring, the ring is stolen and runnext stays.
  rt::runqput(&victim, gs[1], false);
  rt::runqput(&victim, gs[2], true);
  EXPECT_EQ(rt::runqsteal(&thief, &victim, true), gs[1]);
  EXPECT_EQ(victim.runnext.load(), gs[2]);
  EXPECT_EQ(ids(drain_local(&victim)), (std::vector<int64_t>{2}));
}

TEST_F(RunqTest, FullRingSpillsHalfPlusTheNewGToTheGlobalQueue) {
  constexpr int kN = int(rt::p::kRunqSize);
  gpool gs(kN + 2);
  rt::p pp;
  for (int i = 0; i < kN; i++) rt::runqput(&pp, gs[i], false);
  EXPECT_EQ(rt::runqlen(&pp), uint32_t(kN));
  EXPECT_EQ(rt::sched.runqsize.load(), 0);
  rt::runqput(&pp, gs[kN], false);  // the ring is full: 128 + this one go global
  EXPECT_EQ(rt::runqlen(&pp), uint32_t(kN / 2));
  EXPECT_EQ(rt::sched.runqsize.load(), kN / 2 + 1);

  // runnext kicks its old g into the ring (which has room now): no further spill.
  rt::runqput(&pp, gs[kN + 1], true);
  EXPECT_EQ(rt::sched.runqsize.load(), kN / 2 + 1);

  std::vector<int64_t> global = ids(drain_global());
  std::vector<int64_t> want_global = iota_ids(0, kN / 2);
  want_global.push_back(kN);
  EXPECT_EQ(global, want_global);
  std::vector<int64_t> want_local{kN + 1};
  for (int64_t i = kN / 2; i < kN; i++) want_local.push_back(i);
  EXPECT_EQ(ids(drain_local(&pp)), want_local);
}


// The global queue is FIFO whatever way gs come in (one, a list, an array, at the head) and
// however often its ring grows and wraps; globrunqget hands out Go's amounts, first g to
// run and the rest into the local queue, in order.
TEST_F(RunqTest, GlobalQueueStaysFifoAcrossGrowthAndWraps) {
  constexpr int kN = 3000;
  gpool gs(kN + 1);
  rt::p pp;
  int next_in = 1, next_out = 1;
  std::vector<int64_t> got;
  int32_t saved_procs = rt::sched.gomaxprocs.exchange(2);  // the scheduler is at rest: 0
  rt::sched.lock.lock();
  rt::globrunqputhead(gs[0]);  // goes before everything put later at the tail
  while (next_in < kN) {
    // Put a few in every way, then take some out, so head and tail both move round.
    rt::globrunqput(gs[next_in++]);
    if (next_in + 3 <= kN) {
      gs[next_in]->schedlink = gs[next_in + 1];
      gs[next_in + 1]->schedlink = gs[next_in + 2];
      rt::globrunqputbatch(gs[next_in], 3);
      next_in += 3;
    }
    if (next_in + 5 <= kN) {
      rt::g* arr[5];
      for (int k = 0; k < 5; k++) arr[k] = gs[next_in + k];
      rt::globrunqputarray(arr, 5);
      next_in += 5;
    }
    if (next_in % 4 == 0) {
      rt::g* gp = rt::globrunqget(&pp, 1);
      ASSERT_NE(gp, nullptr);
      got.push_back(gp->goid);
      next_out++;
    }
  }
  EXPECT_EQ(rt::sched.runqsize.load(), kN - (next_out - 1));
  rt::sched.lock.unlock();
  // The rest: what is left over gomaxprocs Ps, plus one, capped at half a local ring.
  while (rt::sched.runqsize.load() > 0) {
    int32_t before = rt::sched.runqsize.load();
    rt::sched.lock.lock();
    rt::g* gp = rt::globrunqget(&pp, 0);
    rt::sched.lock.unlock();
    ASSERT_NE(gp, nullptr);
    got.push_back(gp->goid);
    std::vector<rt::g*> local = drain_local(&pp);
    int32_t want = std::min({before / 2 + 1, before, int32_t(rt::p::kRunqSize / 2)});
    EXPECT_EQ(int32_t(local.size()) + 1, want);
    for (rt::g* g1 : local) got.push_back(g1->goid);
  }
  rt::sched.gomaxprocs.store(saved_procs);
  EXPECT_EQ(got, iota_ids(0, kN));
}

// Woken goroutines (holding a stack) come out of the global queue before goroutines that
// have not started or that gave up the processor (Go's FIFO, `runq`), even those queued
// earlier, but every batch of two or more carries one from the FIFO and batches of one
// alternate, so a stream into either ring never starves the other. Each ring stays FIFO;
// a g put at the head goes to the head of its own ring.
TEST_F(RunqTest, GlobalQueueServesWokenGoroutinesFirstWithoutStarvingTheFifo) {
  gpool gs(40);
  for (int i = 20; i < 40; i++) mark_started(gs[i]);
  rt::p pp;
  int32_t saved_procs = rt::sched.gomaxprocs.exchange(2);
  rt::sched.lock.lock();
  for (int i = 0; i < 10; i++) rt::globrunqput(gs[i]);        // not started, queued first
  for (int i = 20; i < 30; i++) rt::globrunqput(gs[i]);       // woken
  rt::g* arr[] = {gs[10], gs[30], gs[11], gs[31]};            // a mixed spill
  rt::globrunqputarray(arr, 4);
  rt::globrunqputhead(gs[32]);                                // woken, at the head
  rt::globrunqput_back(gs[39]);  // holds a stack but yielded: the FIFO's tail, after 11
  EXPECT_EQ(rt::sched.runqsize.load(), 26);

  // 26 queued over 2 Ps: a batch of 14 = the 13 woken (head first) + 1 from the FIFO.
  rt::g* gp = rt::globrunqget(&pp, 0);
  ASSERT_NE(gp, nullptr);
  std::vector<int64_t> got{gp->goid};
  for (rt::g* g1 : drain_local(&pp)) got.push_back(g1->goid);
  EXPECT_EQ(got, (std::vector<int64_t>{32, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 0}));

  // Batches of one (Go's every-61st-tick check) alternate while both rings hold some.
  for (int i = 33; i < 36; i++) rt::globrunqput(gs[i]);
  std::vector<int64_t> ones;
  for (int k = 0; k < 6; k++) ones.push_back(rt::globrunqget(&pp, 1)->goid);
  EXPECT_TRUE(rt::runqempty(&pp));
  std::vector<int64_t> woken_seen, fifo_seen;
  for (int64_t id : ones) (id >= 20 ? woken_seen : fifo_seen).push_back(id);
  EXPECT_EQ(woken_seen, (std::vector<int64_t>{33, 34, 35}));
  EXPECT_EQ(fifo_seen, (std::vector<int64_t>{1, 2, 3}));
  for (size_t k = 1; k < ones.size(); k++)
    EXPECT_NE(ones[k] >= 20, ones[k - 1] >= 20) << "batches of one must alternate rings";

  // The woken ring is empty: the FIFO comes out alone, in order, the yielder last.
  std::vector<int64_t> rest;
  while (rt::g* g1 = rt::globrunqget(&pp, 1)) rest.push_back(g1->goid);
  EXPECT_EQ(rest, (std::vector<int64_t>{4, 5, 6, 7, 8, 9, 10, 11, 39}));
  EXPECT_EQ(rt::sched.runqsize.load(), 0);
  rt::sched.lock.unlock();
  rt::sched.gomaxprocs.store(saved_procs);
}

// One owner pushes (sometimes with next) and pops; three thieves steal from the owner's P
// and from one another into their own P, and drain it. Every g must come out exactly once.
TEST_F(RunqTest, StressOwnerAndThievesLoseAndDuplicateNothing) {
  constexpr int kThieves = 3;
  gpool gs(kGsPerRound);
  std::unique_ptr<std::atomic<uint32_t>[]> seen(new std::atomic<uint32_t>[kGsPerRound]);
  uint64_t total_stolen = 0, total_global = 0, total_owner = 0;

  for (int round = 0; round < kStressRounds; round++) {
    for (int i = 0; i < kGsPerRound; i++) {
      seen[i].store(0, std::memory_order_relaxed);
      gs[i]->schedlink = nullptr;
    }
    std::vector<std::unique_ptr<rt::p>> ps;
    for (int i = 0; i <= kThieves; i++) {
      ps.push_back(std::make_unique<rt::p>());
      ps.back()->id = i;
    }
    std::atomic<int> ready{0};
    std::atomic<bool> owner_done{false};
    std::atomic<uint64_t> stolen{0}, owner_got{0};
    auto take = [&](rt::g* gp) { seen[gp->goid].fetch_add(1, std::memory_order_relaxed); };

    std::vector<std::thread> thieves;
    for (int t = 1; t <= kThieves; t++) {
      thieves.emplace_back([&, t] {
        std::minstd_rand rng{uint32_t(round * 7919 + t)};
        rt::p* mine = ps[size_t(t)].get();
        ready++;
        while (ready.load() <= kThieves) {
        }
        for (;;) {
          bool finished = owner_done.load(std::memory_order_acquire);
          // Mostly rob the owner; sometimes another thief (who may be draining).
          size_t v = rng() % 4 == 0 ? 1 + rng() % kThieves : 0;
          if (ps[v].get() == mine) v = 0;
          if (rt::g* gp = rt::runqsteal(mine, ps[v].get(), rng() % 2 == 0)) {
            take(gp);
            stolen.fetch_add(1, std::memory_order_relaxed);
            bool inherit;
            while (rt::g* g2 = rt::runqget(mine, &inherit)) {
              take(g2);
              stolen.fetch_add(1, std::memory_order_relaxed);
            }
          }
          // After the owner finished, one more full pass finds nothing left to steal
          // from it; other thieves drain their own Ps themselves.
          if (finished) break;
        }
        bool inherit;
        while (rt::g* g2 = rt::runqget(mine, &inherit)) take(g2);
      });
    }

    std::thread owner([&] {
      std::minstd_rand rng{uint32_t(round)};
      rt::p* pp = ps[0].get();
      bool inherit;
      ready++;
      while (ready.load() <= kThieves) {
      }
      int i = 0;
      while (i < kGsPerRound) {
        // Bursts sometimes longer than the ring, so it fills and spills globally.
        int burst = int(rng() % 600);
        for (int k = 0; k < burst && i < kGsPerRound; k++, i++)
          rt::runqput(pp, gs[i], rng() % 8 == 0);
        int gets = int(rng() % 400);
        for (int k = 0; k < gets; k++) {
          rt::g* gp = rt::runqget(pp, &inherit);
          if (gp == nullptr) break;
          take(gp);
          owner_got.fetch_add(1, std::memory_order_relaxed);
        }
        if (rng() % 16 == 0) std::this_thread::yield();
      }
      while (rt::g* gp = rt::runqget(pp, &inherit)) {
        take(gp);
        owner_got.fetch_add(1, std::memory_order_relaxed);
      }
      owner_done.store(true, std::memory_order_release);
    });
    owner.join();
    for (auto& t : thieves) t.join();

    std::vector<rt::g*> global = drain_global();
    for (rt::g* gp : global) take(gp);
    for (auto& pp : ps) ASSERT_TRUE(rt::runqempty(pp.get())) << "round " << round;

    int lost = 0, dup = 0;
    for (int i = 0; i < kGsPerRound; i++) {
      uint32_t c = seen[i].load();
      if (c == 0) lost++;
      if (c > 1) dup++;
    }
    ASSERT_EQ(lost, 0) << "round " << round << ": gs never obtained";
    ASSERT_EQ(dup, 0) << "round " << round << ": gs obtained more than once";
    ASSERT_EQ(owner_got.load() + stolen.load() + global.size(), uint64_t(kGsPerRound));
    total_stolen += stolen.load();
    total_global += global.size();
    total_owner += owner_got.load();
  }
  // The run exercised all three exits from the owner's queue.
  EXPECT_GT(total_owner, 0u);
  EXPECT_GT(total_stolen, 0u);
  EXPECT_GT(total_global, 0u);
  RecordProperty("stolen", std::to_string(total_stolen));
  RecordProperty("global", std::to_string(total_global));
}

}  // namespace
