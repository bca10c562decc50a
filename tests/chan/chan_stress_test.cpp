// chan_stress_test: a randomised run of many goroutines (and a few plain threads) doing
// random sends, receives, selects (with and without default, on several channels, some of
// them nil) and closes on one shared set of channels. Every value sent is unique and owns a
// heap cell; at the end each value must have been received exactly once if its send
// returned, and never if the send panicked ("send on closed channel") or did not happen, and
// every value must have been destroyed exactly once. Also run under TSan (scaled down) and
// ASan.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "chan/chan_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;
using chan_testing::procs_scope;

namespace {

#if defined(GORT_TSAN)
constexpr int kWorkers = 16;
constexpr int kThreads = 1;
constexpr int kOpsPerWorker = 1500;
constexpr int kRounds = 2;
#else
constexpr int kWorkers = 48;
constexpr int kThreads = 2;
constexpr int kOpsPerWorker = 3000;
constexpr int kRounds = 3;
#endif
constexpr int kChans = 6;
constexpr int kMaxIds = (kWorkers + kThreads) * kOpsPerWorker * 4;

std::atomic<int64_t> live_values{0};

// A value: its id, and a heap cell that ASan checks is freed exactly once.
struct value {
  int64_t id = -1;
  std::unique_ptr<int64_t> cell;
  value() = default;
  explicit value(int64_t i) : id(i), cell(std::make_unique<int64_t>(i)) { live_values++; }
  value(value&& o) noexcept : id(o.id), cell(std::move(o.cell)) {}
  value& operator=(value&& o) noexcept {
    if (cell) live_values--;
    id = o.id;
    cell = std::move(o.cell);
    return *this;
  }
  ~value() {
    if (cell) live_values--;
  }
};

struct shared_state {
  gort::chan<value> chans[kChans];
  std::vector<std::atomic<int>> received = std::vector<std::atomic<int>>(kMaxIds);
  std::vector<std::atomic<int>> sent = std::vector<std::atomic<int>>(kMaxIds);
  std::atomic<int64_t> next_id{0};
  std::atomic<int64_t> progress{0};
  std::atomic<int> panics{0};
};

void got(shared_state& s, value&& v) {
  ASSERT_TRUE(v.cell != nullptr);
  ASSERT_EQ(*v.cell, v.id);
  s.received[size_t(v.id)]++;
  value dead = std::move(v);  // destroyed here
}

// One random operation. Throws gort::runtime_error on Go's panics.
void random_op(shared_state& s, std::mt19937& rng) {
  auto pick = [&] { return s.chans[rng() % kChans]; };
  gort::chan<value> nil;
  auto new_value = [&] { return value(s.next_id.fetch_add(1)); };
  switch (rng() % 12) {
    case 0:
    case 1: {  // blocking send
      auto c = pick();
      value v = new_value();
      int64_t id = v.id;
      c.send(std::move(v));
      s.sent[size_t(id)]++;
      break;
    }
    case 2:
    case 3: {  // blocking receive
      auto [v, ok] = pick().recv_ok();
      if (ok) got(s, std::move(v));
      break;
    }
    case 4: {  // non-blocking send
      value v = new_value();
      int64_t id = v.id;
      if (pick().try_send(std::move(v))) {
        s.sent[size_t(id)]++;
      } else {
        ASSERT_TRUE(v.cell != nullptr);  // untouched when not sent
      }
      break;
    }
    case 5: {  // non-blocking receive
      if (auto v = pick().try_recv()) got(s, std::move(*v));
      break;
    }
    case 6:
    case 7:
    case 8: {  // blocking select: two receives, a send, a nil case
      value v = new_value();
      int64_t id = v.id;
      auto a = pick(), b = pick(), c = pick();
      gort::select(gort::case_recv(a, [&](value x, bool ok) { if (ok) got(s, std::move(x)); }),
                   gort::case_recv(b, [&](value x, bool ok) { if (ok) got(s, std::move(x)); }),
                   gort::case_send(c, std::move(v), [&] { s.sent[size_t(id)]++; }),
                   gort::case_recv(nil));
      break;
    }
    case 9:
    case 10: {  // select with default: sends on two channels, a receive
      value v1 = new_value(), v2 = new_value();
      int64_t id1 = v1.id, id2 = v2.id;
      gort::select(gort::case_send(pick(), std::move(v1), [&] { s.sent[size_t(id1)]++; }),
                   gort::case_send(pick(), std::move(v2), [&] { s.sent[size_t(id2)]++; }),
                   gort::case_recv(pick(), [&](value x, bool ok) { if (ok) got(s, std::move(x)); }),
                   gort::case_default());
      break;
    }
    default:
      if (rng() % 6000 == 0) pick().close();  // rarely: close (maybe twice -> panic)
      break;
  }
}

void worker(shared_state& s, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < kOpsPerWorker; i++) {
    try {
      random_op(s, rng);
    } catch (const gort::runtime_error& e) {
      std::string w = e.what();
      ASSERT_TRUE(w == "send on closed channel" || w == "close of closed channel") << w;
      s.panics++;
    }
    s.progress++;
  }
}

void stress_round(uint32_t seed) {
  shared_state s;
  std::mt19937 rng(seed);
  for (auto& c : s.chans) {
    int caps[] = {0, 0, 1, 2, 8};
    c = gort::make_chan<value>(caps[rng() % 5]);
  }
  gort::sync::wait_group wg;
  std::atomic<int> running{kWorkers + kThreads};
  for (int w = 0; w < kWorkers; w++) {
    wg.go([&, w] {
      worker(s, seed * 1000 + uint32_t(w));
      running--;
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    wg.add(1);
    threads.emplace_back([&, t] {
      worker(s, seed * 1000 + 900 + uint32_t(t));
      running--;
      wg.done();
    });
  }
  // When everyone left is blocked (no progress for a while), take a value from and offer
  // one to every channel; if that does not help either, close a channel so that they go
  // on: their sends panic, receives see ok == false.
  int64_t last = -1;
  int c = 0, stalls = 0;
  while (running.load() > 0) {
    gort::time::sleep(1ms);
    int64_t now = s.progress.load();
    if (now != last) {
      stalls = 0;
    } else if (++stalls < 5) {
      for (auto& ch : s.chans) {
        try {
          if (auto v = ch.try_recv()) got(s, std::move(*v));
          value v(s.next_id.fetch_add(1));
          int64_t id = v.id;
          if (ch.try_send(std::move(v))) s.sent[size_t(id)]++;
        } catch (const gort::runtime_error&) {
        }
      }
    } else {
      try {
        s.chans[c++ % kChans].close();
      } catch (const gort::runtime_error&) {
      }
    }
    last = now;
  }
  wg.wait();
  for (auto& t : threads) t.join();
  // Drain what is still buffered.
  for (auto& ch : s.chans) {
    try {
      ch.close();
    } catch (const gort::runtime_error&) {
    }
    for (auto& v : ch) got(s, std::move(v));
  }
  int64_t n = s.next_id.load();
  ASSERT_LE(n, kMaxIds);
  int64_t delivered = 0;
  for (int64_t id = 0; id < n; id++) {
    int r = s.received[size_t(id)].load(), sn = s.sent[size_t(id)].load();
    ASSERT_LE(sn, 1) << "value " << id << " reported sent twice";
    ASSERT_EQ(r, sn) << "value " << id << (sn ? " was sent but received " : " was not sent but received ")
                     << r << " times";
    delivered += r;
  }
  EXPECT_GT(delivered, kOpsPerWorker);
  std::fprintf(stderr, "round %u: %lld values, %lld delivered, %d panics\n", seed, (long long)n,
               (long long)delivered, s.panics.load());
  for (auto& ch : s.chans) ch = nullptr;
}

}  // namespace

TEST(ChanStress, RandomOpsDeliverEveryValueExactlyOnce) {
  gort::run([] {
    procs_scope procs(4);
    for (int r = 0; r < kRounds; r++) {
      // (No SCOPED_TRACE: gtest keeps it per thread, and goroutines move between threads.)
      stress_round(uint32_t(r + 1));
      if (HasFatalFailure()) return;
    }
  });
  EXPECT_EQ(live_values.load(), 0);
}
