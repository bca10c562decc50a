// stack_release_test: goroutines idle on the poller give their stack pages back
// (sched/stack_release.hpp) and lose nothing by it: their frames come back when they are
// woken, when another goroutine reads or writes through a pointer into them, and when a
// goroutine dump walks them. Skipped where the feature is off (sanitizer builds, kernels
// without guard markers).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/stack_release.hpp"

using namespace std::chrono_literals;
namespace net = gort::net;
namespace rt = gort::rt;

namespace {

struct conn_pair {
  net::listener ln;
  std::vector<net::conn> client, server;
};

conn_pair connect_many(int n) {
  conn_pair p;
  auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(err) << err.message();
  if (err) return p;
  for (int i = 0; i < n; i++) {
    auto [c, derr] = net::dial("tcp", ln.address().string());
    auto [s, aerr] = ln.accept();
    EXPECT_FALSE(derr || aerr);
    if (derr || aerr) return p;
    p.client.push_back(std::move(c));
    p.server.push_back(std::move(s));
  }
  p.ln = std::move(ln);
  return p;
}

std::string read_exactly(const net::conn& c, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    auto [k, err] = c.read(std::span<char>(out.data() + got, n - got));
    if (err) return out.substr(0, got);
    got += k;
  }
  return out;
}

// `n` connected pairs in p, or the test ends: failed (no connection) or skipped (the
// release is off in this build or on this kernel).
#define CONNECT_OR_SKIP(p, n)                                 \
  auto p = connect_many(n);                                   \
  ASSERT_EQ(p.server.size(), size_t(n));                      \
  if (!rt::stack_release_enabled()) GTEST_SKIP() << "stack release is off in this build/kernel"

// Waits (up to 10 s) until at least n stacks are released; false on timeout.
bool wait_released(int n) {
  auto end = std::chrono::steady_clock::now() + 10s;
  while (rt::released_stacks.load() < n) {
    if (std::chrono::steady_clock::now() > end) return false;
    gort::time::sleep(5ms);
  }
  return true;
}

bool page_resident(const void* p) {
  long ps = sysconf(_SC_PAGESIZE);
  auto page = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(ps - 1);
  unsigned char v = 0;
  if (mincore(reinterpret_cast<void*>(page), size_t(ps), &v) != 0) return true;
  return (v & 1) != 0;
}

// Mappings of this process (the kernel allows 65530): releasing must not split them.
int count_mappings() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return -1;
  int n = 0;
  for (int ch; (ch = std::fgetc(f)) != EOF;) n += ch == '\n';
  std::fclose(f);
  return n;
}

uint64_t pattern(int i, uint64_t salt) { return (uint64_t(i) * 0x9e3779b97f4a7c15u) ^ salt; }

}  // namespace

// A reader parked on an idle connection has its stack page released; another goroutine
// reads and writes its frame through a pointer (the page comes back on the fault), the
// page is released again, and when data arrives the reader finds its frame intact.
TEST(StackRelease, IdleReaderKeepsItsFrameThroughFaultsAndWakeUp) {
  gort::run([] {
    CONNECT_OR_SKIP(p, 1);
    int base = rt::released_stacks.load();
    std::atomic<uint64_t*> frame{nullptr};
    auto result = gort::make_chan<std::string>(1);
    gort::go([&, s = p.server[0]] {
      uint64_t words[256];
      for (int i = 0; i < 256; i++) words[i] = pattern(i, 7);
      frame.store(words);
      char buf[16];
      auto [n, err] = s.read(buf);  // parks until the client writes
      std::string bad;
      if (err || n != 3) bad = "read failed";
      for (int i = 0; i < 256 && bad.empty(); i++) {
        uint64_t want = i == 9 ? 12345 : pattern(i, 7);
        if (words[i] != want) bad = "word " + std::to_string(i) + " changed";
      }
      result.send(bad);
    });
    while (frame.load() == nullptr) gort::time::sleep(1ms);
    ASSERT_TRUE(wait_released(base + 1));
    uint64_t* words = frame.load();
    EXPECT_FALSE(page_resident(words + 255));
    uint64_t releases = rt::stack_releases_total.load();
    // Another goroutine touches the released frame: a read, then a write.
    EXPECT_EQ(words[3], pattern(3, 7));
    words[9] = 12345;
    // Still idle: released again by a later sweep.
    for (int i = 0; i < 2000 && rt::stack_releases_total.load() == releases; i++)
      gort::time::sleep(5ms);
    ASSERT_GT(rt::stack_releases_total.load(), releases);
    EXPECT_FALSE(page_resident(words + 255));
    ASSERT_FALSE(p.client[0].write(std::string_view("abc")).second);
    EXPECT_EQ(result.recv(), "");
    EXPECT_EQ(rt::released_stacks.load(), base);
  });
}

// Touches `bytes` of stack below the caller and returns the address of the deepest byte
// and a sum that depends on all of them.
[[gnu::noinline]] uintptr_t go_deep(size_t bytes, uint64_t* sum) {
  volatile unsigned char buf[8192];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = static_cast<unsigned char>(i);
  uint64_t s = buf[sizeof buf - 1];
  uintptr_t deepest = reinterpret_cast<uintptr_t>(&buf[0]);
  if (bytes > sizeof buf) deepest = go_deep(bytes - sizeof buf, &s);
  *sum += s;
  return deepest;
}

// The pages of a released goroutine's dead frames (a deep call it made before parking)
// are given back too, and the goroutine can go as deep again after it wakes.
TEST(StackRelease, DeadFramesBelowAParkedReaderAreGivenBack) {
  gort::run([] {
    CONNECT_OR_SKIP(p, 1);
    int base = rt::released_stacks.load();
    std::atomic<uintptr_t> deepest{0};
    auto result = gort::make_chan<uint64_t>(1);
    gort::go([&, s = p.server[0]] {
      uint64_t first = 0, second = 0;
      uintptr_t d = go_deep(64 * 1024, &first);
      deepest.store(d);
      char buf[4];
      s.read(buf);
      go_deep(64 * 1024, &second);
      result.send(first == second ? second : 0);
    });
    while (deepest.load() == 0) gort::time::sleep(1ms);
    ASSERT_TRUE(wait_released(base + 1));
    EXPECT_FALSE(page_resident(reinterpret_cast<void*>(deepest.load())));
    ASSERT_FALSE(p.client[0].write(std::string_view("go")).second);
    EXPECT_NE(result.recv(), 0u);
  });
}

// Many released readers woken at once across Ps, each checking a frame of its own.
TEST(StackRelease, ManyReleasedReadersWakeWithTheirFrames) {
  gort::run([] {
    gort::gomaxprocs(4);
    constexpr int kConns = 200;
    CONNECT_OR_SKIP(p, kConns);
    int base = rt::released_stacks.load();
    std::atomic<int> bad{0}, parked{0};
    gort::sync::wait_group wg;
    for (int k = 0; k < kConns; k++) {
      wg.go([&, k, s = p.server[k]] {
        uint64_t words[64];
        for (int i = 0; i < 64; i++) words[i] = pattern(i, uint64_t(k));
        parked.fetch_add(1);
        char buf[8];
        auto [n, err] = s.read(buf);
        if (err || n != 1 || buf[0] != char(k)) bad.fetch_add(1);
        for (int i = 0; i < 64; i++)
          if (words[i] != pattern(i, uint64_t(k))) bad.fetch_add(1);
      });
    }
    while (parked.load() < kConns) gort::time::sleep(1ms);
    int maps_before = count_mappings();
    ASSERT_TRUE(wait_released(base + kConns));
    // Guard markers, not a mapping (or two) each. Threads started meanwhile add a few: a
    // new M's stack and guard page, its glibc malloc arena (under load, 5 at times).
    EXPECT_LE(count_mappings(), maps_before + kConns / 4);
    for (int k = 0; k < kConns; k++) {
      char b = char(k);
      ASSERT_FALSE(p.client[k].write(std::string_view(&b, 1)).second);
    }
    wg.wait();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(rt::released_stacks.load(), base);
  });
}

// A goroutine dump walks a released goroutine's frames (they come back first) and the
// goroutine runs on normally afterwards.
[[gnu::noinline]] void idle_reader_for_dump(const net::conn& s, gort::chan<int>& done) {
  char buf[4];
  auto [n, err] = s.read(buf);
  done.send(err ? -1 : int(n));
}

TEST(StackRelease, DumpWalksAReleasedGoroutine) {
  gort::run([] {
    CONNECT_OR_SKIP(p, 1);
    int base = rt::released_stacks.load();
    auto done = gort::make_chan<int>(1);
    gort::go([&, s = p.server[0]] { idle_reader_for_dump(s, done); });
    ASSERT_TRUE(wait_released(base + 1));
    testing::internal::CaptureStderr();
    gort::debug::dump_goroutines();
    std::string dump = testing::internal::GetCapturedStderr();
    EXPECT_NE(dump.find("[IO wait"), std::string::npos) << dump;
    EXPECT_NE(dump.find("idle_reader_for_dump"), std::string::npos) << dump;
    ASSERT_FALSE(p.client[0].write(std::string_view("xy")).second);
    EXPECT_EQ(done.recv(), 2);
  });
}

// A plain thread keeps writing into a parked reader's frame while sysmon releases it over
// and over and another thread keeps reading it (so either may be the one that puts the
// pages back): a write that races with a release or a restore faults and waits (the pages
// are read-only while copied out, inaccessible while copied back), so none is lost.
TEST(StackRelease, WritesRacingWithReleasesAreNotLost) {
  gort::run([] {
    CONNECT_OR_SKIP(p, 1);
    int base = rt::released_stacks.load();
    std::atomic<uint64_t*> counter{nullptr};
    auto result = gort::make_chan<uint64_t>(1);
    gort::go([&, s = p.server[0]] {
      uint64_t n = 0;
      counter.store(&n);
      char buf[4];
      s.read(buf);
      result.send(uint64_t{*static_cast<volatile uint64_t*>(&n)});
    });
    while (counter.load() == nullptr) gort::time::sleep(1ms);
    ASSERT_TRUE(wait_released(base + 1));
    uint64_t writes = 0;
    std::atomic<bool> writing{true};
    std::thread reader([&] {
      auto* c = static_cast<volatile uint64_t*>(counter.load());
      uint64_t last = 0;
      while (writing.load(std::memory_order_relaxed)) {
        uint64_t v = *c;
        if (v < last) ADD_FAILURE() << "the counter went back from " << last << " to " << v;
        last = v;
      }
    });
    std::thread writer([&] {
      auto* c = static_cast<volatile uint64_t*>(counter.load());
      auto end = std::chrono::steady_clock::now() + 400ms;
      while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 1000; i++) *c = *c + 1;
        writes += 1000;
      }
    });
    gort::syscall([&] {
      writer.join();
      writing.store(false);
      reader.join();
      return 0;
    });
    ASSERT_FALSE(p.client[0].write(std::string_view("z")).second);
    EXPECT_EQ(result.recv(), writes);
  });
}

// A gort::run that ends while a goroutine's stack is released (the goroutine becomes a
// zombie) puts the stack back: the next run counts from zero and releases its own.
TEST(StackRelease, AFinishedRunPutsReleasedStacksBack) {
  if (!rt::stack_release_enabled()) GTEST_SKIP() << "stack release is off in this build/kernel";
  std::atomic<uint64_t*> frame{nullptr};
  for (int run = 0; run < 2; run++) {
    gort::run([&] {
      auto p = connect_many(1);
      ASSERT_EQ(p.server.size(), 1u);
      EXPECT_EQ(rt::released_stacks.load(), 0);
      gort::go([&, s = p.server[0]] {
        uint64_t words[32];
        for (int i = 0; i < 32; i++) words[i] = pattern(i, 99);
        frame.store(words);
        char buf[4];
        s.read(buf);  // never returns: the run ends first
      });
      ASSERT_TRUE(wait_released(1));
    });
    EXPECT_EQ(rt::released_stacks.load(), 0);
    // The zombie's frame is readable again, and intact.
    EXPECT_TRUE(page_resident(frame.load() + 31));
    EXPECT_EQ(frame.load()[5], pattern(5, 99));
  }
}

// A forked child that touches a parked goroutine's released frame gets its own copy of
// the frame back (the restore writes the child's memory, not the parent's), and the
// parent's goroutine still wakes with its frame intact.
TEST(StackRelease, AForkedChildRestoresItsOwnCopy) {
  gort::run([] {
    CONNECT_OR_SKIP(p, 1);
    int base = rt::released_stacks.load();
    std::atomic<uint64_t*> frame{nullptr};
    auto result = gort::make_chan<bool>(1);
    gort::go([&, s = p.server[0]] {
      uint64_t words[64];
      for (int i = 0; i < 64; i++) words[i] = pattern(i, 3);
      frame.store(words);
      char buf[4];
      s.read(buf);
      bool same = true;
      for (int i = 0; i < 64; i++) same = same && words[i] == pattern(i, 3);
      result.send(same);
    });
    while (frame.load() == nullptr) gort::time::sleep(1ms);
    ASSERT_TRUE(wait_released(base + 1));
    uint64_t* words = frame.load();
    pid_t pid = fork();
    if (pid == 0) {
      bool ok = words[5] == pattern(5, 3);
      words[6] = 0;  // the child's copy only
      _exit(ok && words[7] == pattern(7, 3) ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    gort::syscall([&] { return waitpid(pid, &status, 0); });
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    EXPECT_EQ(rt::released_stacks.load(), base + 1);  // the parent's stack stayed released
    ASSERT_FALSE(p.client[0].write(std::string_view("f")).second);
    EXPECT_TRUE(result.recv());
  });
}

// Another goroutine reads from a connection into a buffer in a released frame, and writes
// from one: gort's calls touch the buffer first, so the kernel finds the pages back
// instead of failing with EFAULT, and the owner sees the bytes when it wakes.
TEST(StackRelease, IoIntoAReleasedFrameFromAnotherGoroutine) {
  gort::run([] {
    CONNECT_OR_SKIP(p, 2);
    int base = rt::released_stacks.load();
    std::atomic<char*> shared{nullptr};
    auto result = gort::make_chan<std::string>(1);
    gort::go([&, s = p.server[0]] {
      char inbox[64] = "untouched";
      shared.store(inbox);
      char buf[4];
      s.read(buf);  // parks until the end of the test
      result.send(std::string(inbox, 5));
    });
    while (shared.load() == nullptr) gort::time::sleep(1ms);
    ASSERT_TRUE(wait_released(base + 1));
    // Writes from the released frame: the peer gets "untou".
    ASSERT_FALSE(p.server[1].write(std::string_view(shared.load(), 5)).second);
    EXPECT_EQ(read_exactly(p.client[1], 5), "untou");
    ASSERT_TRUE(wait_released(base + 1));  // released again
    // Reads into the released frame.
    ASSERT_FALSE(p.client[1].write(std::string_view("hello")).second);
    size_t got = 0;
    while (got < 5) {
      auto [n, err] = p.server[1].read(std::span<char>(shared.load() + got, 5 - got));
      ASSERT_FALSE(err) << err.message();
      got += n;
    }
    ASSERT_FALSE(p.client[0].write(std::string_view("w")).second);
    EXPECT_EQ(result.recv(), "hello");
  });
}
