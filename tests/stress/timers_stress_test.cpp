// timers_stress_test: runtime timers armed, deleted and fired at once on several Ps.
// Goroutines arm timers due within 100 us on whatever P they run on, while others delete
// them from other Ps, as the timers fire from schedule, from thieves and from the netpoll
// sleeper. What must hold for every arming: exactly one of "deltimer returned true" and
// "f ran", never both, never twice; and every heap stays valid (TSan/ASan watch the rest).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <random>
#include <vector>

#include "gort/gort.hpp"
#include "os/clock.hpp"
#include "sched/sched.hpp"
#include "sched/timers.hpp"

using namespace std::chrono_literals;
namespace rt = gort::rt;

namespace {

// One shared timer and who may touch it: free (not in a heap, f done) -> arming (one
// goroutine sets it up and adds it) -> armed -> free again when f runs, or deleting (one
// goroutine deletes it) -> free. The state word carries the arming's seq too, so that an f
// still finishing an older arming can never free a newer one.
enum : uint64_t { kFree, kArming, kArmed, kDeleting };
constexpr uint64_t word(uint64_t seq, uint64_t state) { return seq << 2 | state; }
constexpr uint64_t state_of(uint64_t w) { return w & 3; }
constexpr uint64_t seq_of(uint64_t w) { return w >> 2; }

struct slot {
  rt::timer t;
  std::atomic<uint64_t> state{word(0, kFree)};
  std::atomic<uint64_t> fired_seq{0};  // seq of the latest arming whose f ran
};

struct totals {
  std::atomic<int64_t> armings{0}, fires{0}, stops{0}, fired_twice{0}, stuck{0};
};
totals* the_totals = nullptr;

void on_fire(void* arg, uintptr_t seq) {
  auto* s = static_cast<slot*>(arg);
  the_totals->fires.fetch_add(1);
  if (s->fired_seq.exchange(seq) >= seq) the_totals->fired_twice.fetch_add(1);
  uint64_t armed = word(seq, kArmed);
  s->state.compare_exchange_strong(armed, word(seq, kFree));  // else a deleter frees it
}

// Waits (yielding) until the arming `seq` of s has run its f; false after 10 s.
bool wait_fired(slot& s, uint64_t seq) {
  auto deadline = gort::os::nanotime() + int64_t(10) * 1000000000;
  while (s.fired_seq.load() < seq) {
    if (gort::os::nanotime() > deadline) return false;
    gort::yield();
  }
  return true;
}

void churn(std::vector<slot>& slots, unsigned seed, int iterations) {
  std::minstd_rand rng(seed);
  for (int it = 0; it < iterations; it++) {
    slot& s = slots[rng() % slots.size()];
    const uint64_t w = s.state.load();
    uint64_t seq = seq_of(w);
    // Each transition compares against its own copy of w: a failed compare_exchange writes
    // the current word into its `expected`, and the next branch must not pair that newer
    // word with this older seq (a deleter would then store free(seq) over a later arming,
    // and the same timer would be armed twice).
    uint64_t expect_free = w, expect_armed = w;
    if (state_of(w) == kFree && s.state.compare_exchange_strong(expect_free, word(seq, kArming))) {
      seq++;
      s.t.f = on_fire;
      s.t.arg = &s;
      s.t.seq = seq;
      s.t.period = 0;
      s.t.when = gort::os::nanotime() + int64_t(rng() % 100) * 1000;
      the_totals->armings.fetch_add(1);
      rt::addtimer(&s.t);
      // f may run before this; it then leaves the slot to the next deleter, who finds
      // deltimer false and the arming fired.
      s.state.store(word(seq, kArmed));
    } else if (state_of(w) == kArmed && rng() % 2 == 0 &&
               s.state.compare_exchange_strong(expect_armed, word(seq, kDeleting))) {
      if (rt::deltimer(&s.t)) {
        the_totals->stops.fetch_add(1);
      } else if (!wait_fired(s, seq)) {
        the_totals->stuck.fetch_add(1);  // neither stopped nor fired: lost
      }
      s.state.store(word(seq, kFree));
    }
    switch (rng() % 16) {  // let timers come due and Ps go idle now and then
      case 0: gort::yield(); break;
      case 1: gort::time::sleep(std::chrono::microseconds(rng() % 50)); break;
      default: break;
    }
  }
}

TEST(TimersStress, DeletesRaceFiringAcrossPs) {
  totals t;
  the_totals = &t;
  constexpr int kSlots = 64;
  constexpr int kWorkers = 8;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kIterations = 1500;
#else
  constexpr int kIterations = 6000;
#endif
  std::vector<slot> slots(kSlots);
  gort::run([&] {
    int prev = gort::gomaxprocs(4);
    gort::sync::wait_group wg;
    for (int w = 0; w < kWorkers; w++) wg.go([&, w] { churn(slots, 1000u + unsigned(w), kIterations); });
    wg.wait();
    // Quiesce: delete what is still pending, wait for what is firing.
    for (slot& s : slots) {
      uint64_t w = s.state.load();
      ASSERT_NE(state_of(w), kArming);
      ASSERT_NE(state_of(w), kDeleting);
      if (state_of(w) == kArmed) {
        if (rt::deltimer(&s.t))
          t.stops.fetch_add(1);
        else
          ASSERT_TRUE(wait_fired(s, seq_of(w)));
      }
    }
    for (int32_t i = 0; i < 4; i++) EXPECT_TRUE(rt::timer_heap_valid(rt::sched.allp[i]));
    gort::gomaxprocs(prev);
  });
  the_totals = nullptr;
  std::printf("armings %lld fires %lld stops %lld\n", (long long)t.armings.load(), (long long)t.fires.load(), (long long)t.stops.load());
  EXPECT_GT(t.armings.load(), int64_t(kWorkers) * kIterations / 8);
  EXPECT_GT(t.fires.load(), 0);
  EXPECT_GT(t.stops.load(), 0);
  EXPECT_EQ(t.fired_twice.load(), 0);
  EXPECT_EQ(t.stuck.load(), 0);
  EXPECT_EQ(t.fires.load() + t.stops.load(), t.armings.load())
      << "fires " << t.fires.load() << " stops " << t.stops.load();
}

}  // namespace
