// stack_release_stress_test: readers on 64 connections alternate long idle spells (their
// stacks released by sysmon) with bursts of wake-ups on four Ps, while a plain thread
// keeps reading and writing into their frames (each access to a released frame faults
// and puts it back). What must hold: every reader finds its frame exactly as it left it
// after every wake-up, and every write the poking thread made is there. In sanitizer
// builds the release is off and the test only exercises the same schedules.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/stack_release.hpp"

using namespace std::chrono_literals;
namespace net = gort::net;
namespace rt = gort::rt;

namespace {

constexpr int kConns = 64;
constexpr int kRounds = 8;
constexpr int kWords = 32;  // words[0] belongs to the poking thread, the rest to the reader

uint64_t expected(int conn, int round, int i) {
  return (uint64_t(conn) << 40) ^ (uint64_t(round) << 20) ^ uint64_t(i) * 0x9e3779b97f4a7c15u;
}

}  // namespace

TEST(StackReleaseStress, IdleSpellsWakeUpsAndForeignAccessesKeepEveryFrame) {
  gort::run([] {
    gort::gomaxprocs(4);
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    std::vector<net::conn> clients;
    std::vector<std::atomic<uint64_t*>> frames(kConns);
    std::vector<uint64_t> final_pokes(kConns, 0);
    std::atomic<int> bad{0}, parked_once{0};
    uint64_t releases_before = rt::stack_releases_total.load();
    gort::sync::wait_group rounds_done, exited;
    auto poker_stopped = gort::make_chan<int>();
    for (int k = 0; k < kConns; k++) {
      auto [c, derr] = net::dial("tcp", ln.address().string());
      auto [s, aerr] = ln.accept();
      ASSERT_FALSE(derr || aerr);
      clients.push_back(c);
      rounds_done.add(1);
      exited.go([&, k, s = s] {
        uint64_t words[kWords];
        words[0] = 0;
        for (int i = 1; i < kWords; i++) words[i] = expected(k, 0, i);
        frames[k].store(words);
        parked_once.fetch_add(1);
        for (int round = 0; round < kRounds; round++) {
          char b;
          auto [n, rerr] = s.read(std::span<char>(&b, 1));
          if (rerr || n != 1) {
            bad.fetch_add(1);
            break;
          }
          for (int i = 1; i < kWords; i++) {
            if (words[i] != expected(k, round, i)) bad.fetch_add(1);
            words[i] = expected(k, round + 1, i);
          }
        }
        rounds_done.done();
        poker_stopped.recv();  // the frame must outlive the poking thread's accesses
        final_pokes[k] = *static_cast<volatile uint64_t*>(&words[0]);
      });
    }
    while (parked_once.load() < kConns) gort::time::sleep(1ms);

    // Pokes word 0 of random frames (a load and a store each), counting per connection.
    std::atomic<bool> poking{true};
    std::vector<uint64_t> pokes(kConns, 0);
    std::thread poker([&] {
      std::mt19937 rng(7);
      while (poking.load(std::memory_order_relaxed)) {
        int k = int(rng() % kConns);
        auto* v = static_cast<volatile uint64_t*>(frames[k].load());
        *v = *v + 1;
        pokes[k]++;
        if (rng() % 64 == 0) std::this_thread::sleep_for(1ms);
      }
    });

    std::mt19937 rng(11);
    for (int round = 0; round < kRounds; round++) {
      // Long spells let sysmon release the idle readers' stacks; short ones catch it
      // in the middle of a sweep.
      gort::time::sleep(round % 2 == 0 ? 150ms : std::chrono::milliseconds(rng() % 20));
      for (int k = 0; k < kConns; k++) {
        char b = 'x';
        if (clients[k].write(std::string_view(&b, 1)).second) bad.fetch_add(1);
      }
    }
    rounds_done.wait();
    poking.store(false);
    gort::syscall([&] {
      poker.join();
      return 0;
    });
    poker_stopped.close();
    exited.wait();
    for (int k = 0; k < kConns; k++) {
      EXPECT_EQ(final_pokes[k], pokes[k]) << "connection " << k << " lost writes";
    }
    EXPECT_EQ(bad.load(), 0);
    if (rt::stack_release_enabled()) {
      EXPECT_GE(rt::stack_releases_total.load() - releases_before, uint64_t(kConns))
          << "the readers' stacks were not released in their idle spells";
    }
    EXPECT_EQ(rt::released_stacks.load(), 0);
  });
}
