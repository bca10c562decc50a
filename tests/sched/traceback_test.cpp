// traceback_test: gort::debug::goroutine_dump() — Go's "goroutine N [state]:" headers for the
// caller, for main (goroutine 1), for goroutines parked in wait_group::wait ("semacquire")
// or asleep ("sleep"), the frames of a parked goroutine, and "created by" lines for every
// goroutine but main.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

// The caller's goroutine id, read from its own header (the dump's first line).
long own_goid() {
  std::string d = gort::debug::goroutine_dump();
  const std::string prefix = "goroutine ";
  if (d.rfind(prefix, 0) != 0) return -1;
  return std::strtol(d.c_str() + prefix.size(), nullptr, 10);
}

// The block of `dump` that starts with "goroutine <id> [", up to the blank line after it;
// empty if there is none.
std::string section(const std::string& dump, long id) {
  std::string header = "goroutine " + std::to_string(id) + " [";
  size_t at = dump.rfind(header, 0) == 0 ? 0 : dump.find("\n" + header);
  if (at == std::string::npos) return "";
  if (at != 0) at++;
  size_t end = dump.find("\n\n", at);
  return dump.substr(at, end == std::string::npos ? std::string::npos : end + 1 - at);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// Takes dumps until one has a section for id whose header starts with `want`, for up to
// about 2 s (a goroutine that is about to park may still be running); returns that section,
// or the last one seen.
std::string wait_for_section(long id, const std::string& want) {
  std::string s;
  for (int i = 0; i < 2000; i++) {
    s = section(gort::debug::goroutine_dump(), id);
    if (s.rfind(want, 0) == 0) break;
    gort::time::sleep(1ms);
  }
  return s;
}

}  // namespace

class Traceback : public testing::Test {
 protected:
  void SetUp() override {}
};

// Named, external and not inlined, so that a traceback can name them; the empty asm after
// the blocking call keeps it from being a tail call (which would drop the frame).
__attribute__((noinline)) void traceback_test_sleeper(std::atomic<long>* id) {
  *id = own_goid();
  gort::time::sleep(1h);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void traceback_test_waiter(std::atomic<long>* id,
                                                      gort::sync::wait_group* wg) {
  *id = own_goid();
  wg->wait();
  asm volatile("" ::: "memory");
}

// The go statement is here: "created by" must name this function.
__attribute__((noinline)) void traceback_test_spawner(std::atomic<long>* id,
                                                       gort::sync::wait_group* block,
                                                       gort::sync::wait_group* done) {
  done->add(1);
  gort::go([=] {
    traceback_test_waiter(id, block);
    done->done();
  });
  asm volatile("" ::: "memory");
}

TEST_F(Traceback, CallerComesFirstAndMainIsGoroutineOne) {
  gort::run([] {
    std::string d = gort::debug::goroutine_dump();
    EXPECT_EQ(first_line(d), "goroutine 1 [running]:") << d;
    EXPECT_EQ(own_goid(), 1);

    gort::sync::wait_group wg;
    std::string from_other, main_section;
    long other = -1;
    wg.go([&] {
      other = own_goid();
      from_other = gort::debug::goroutine_dump();
      main_section = wait_for_section(1, "goroutine 1 [semacquire]:");
    });
    wg.wait();
    EXPECT_GT(other, 1);
    EXPECT_EQ(first_line(from_other), "goroutine " + std::to_string(other) + " [running]:")
        << from_other;
    EXPECT_NE(from_other.find("goroutine 1 ["), std::string::npos) << from_other;
    // Main waits in wg.wait meanwhile.
    EXPECT_EQ(first_line(main_section), "goroutine 1 [semacquire]:") << main_section;
    EXPECT_EQ(main_section.find("created by"), std::string::npos) << main_section;
  });
}

TEST_F(Traceback, GoroutineParkedInWaitGroupWaitShowsSemacquire) {
  gort::run([] {
    gort::sync::wait_group block, done;
    block.add(1);
    std::atomic<long> id{0};
    done.go([&] { traceback_test_waiter(&id, &block); });
    while (id.load() == 0) gort::time::sleep(100us);
    std::string header = "goroutine " + std::to_string(id.load()) + " [semacquire]:";
    std::string s = wait_for_section(id.load(), header);
    block.done();
    done.wait();
    EXPECT_EQ(first_line(s), header) << gort::debug::goroutine_dump();
    EXPECT_NE(s.find("traceback_test_waiter"), std::string::npos) << s;
    EXPECT_NE(s.find("created by"), std::string::npos) << s;
  });
}

TEST_F(Traceback, SleepingGoroutineShowsSleep) {
  gort::run([] {
    std::atomic<long> id{0};
    gort::go([&] { traceback_test_sleeper(&id); });  // still asleep when the run ends
    while (id.load() == 0) gort::time::sleep(100us);
    std::string header = "goroutine " + std::to_string(id.load()) + " [sleep]:";
    std::string s = wait_for_section(id.load(), header);
    EXPECT_EQ(first_line(s), header) << gort::debug::goroutine_dump();
    EXPECT_NE(s.find("traceback_test_sleeper"), std::string::npos) << s;
  });
}

TEST_F(Traceback, EveryGoroutineButMainHasACreatedByLine) {
  gort::run([] {
    gort::sync::wait_group block, done;
    block.add(1);
    std::atomic<int> started{0};
    for (int i = 0; i < 3; i++) {
      done.go([&] {
        started++;
        block.wait();
      });
    }
    while (started.load() < 3) gort::time::sleep(100us);
    std::string d = gort::debug::goroutine_dump();
    block.done();
    done.wait();
    int headers = 0, created = 0;
    for (size_t at = 0; (at = d.find("goroutine ", at)) != std::string::npos; at++) {
      if (at != 0 && d[at - 1] != '\n') continue;
      headers++;
    }
    for (size_t at = 0; (at = d.find("\ncreated by ", at)) != std::string::npos; at++) created++;
    EXPECT_EQ(headers, 4) << d;
    EXPECT_EQ(created, 3) << d;
    EXPECT_EQ(section(d, 1).find("created by"), std::string::npos) << d;
  });
}

// Also in optimised builds, where the compiler inlines freely.
TEST_F(Traceback, CreatedByNamesTheFunctionWithTheGoStatement) {
  gort::run([] {
    gort::sync::wait_group block, done;
    block.add(1);
    std::atomic<long> id{0};
    traceback_test_spawner(&id, &block, &done);
    while (id.load() == 0) gort::time::sleep(100us);
    std::string s = wait_for_section(id.load(), "goroutine " + std::to_string(id.load()) +
                                                    " [semacquire]:");
    block.done();
    done.wait();
    EXPECT_NE(s.find("\ncreated by traceback_test_spawner("), std::string::npos) << s;
  });
}

TEST_F(Traceback, RuntimeFramesAreHiddenByDefault) {
  if (const char* tb = std::getenv("GOTRACEBACK"); tb != nullptr && *tb != '\0')
    GTEST_SKIP() << "GOTRACEBACK is set";
  gort::run([] {
    gort::sync::wait_group block, done;
    block.add(1);
    std::atomic<long> id{0};
    done.go([&] { traceback_test_waiter(&id, &block); });
    while (id.load() == 0) gort::time::sleep(100us);
    std::string s = wait_for_section(id.load(), "goroutine " + std::to_string(id.load()) +
                                                    " [semacquire]:");
    std::string mine = section(gort::debug::goroutine_dump(), 1);
    block.done();
    done.wait();
    EXPECT_EQ(s.find("gort::rt::"), std::string::npos) << s;
    EXPECT_EQ(mine.find("gort::rt::"), std::string::npos) << mine;
  });
}

TEST_F(Traceback, DumpFromAPlainThreadListsTheGoroutines) {
  gort::run([] {
    gort::sync::wait_group block, done;
    block.add(1);
    done.go([&] { block.wait(); });
    std::string d;
    std::thread t([&] { d = gort::debug::goroutine_dump(); });
    t.join();
    block.done();
    done.wait();
    EXPECT_NE(d.find("goroutine 1 ["), std::string::npos) << d;
    EXPECT_NE(d.find("created by"), std::string::npos) << d;
  });
}

namespace {

// The smallest stack gort allows: the dump must not be symbolised on the goroutine's stack
// (libdw takes ~150 KiB).
void dump_from_a_goroutine_with_the_smallest_stack() {
  alarm(20);  // a hang fails the test (SIGALRM) rather than waiting for ever
  gort::debug::set_max_stack(1);
  gort::run([] {
    gort::sync::wait_group wg;
    std::string d;
    wg.go([&] {
      // Until main shows as parked (it may not have reached wg.wait() yet).
      while ((d = gort::debug::goroutine_dump()).find("goroutine 1 [semacquire]:") ==
             std::string::npos)
        gort::time::sleep(std::chrono::milliseconds(1));
    });
    wg.wait();
    std::fprintf(stderr, "%s", d.c_str());
  });
  std::fflush(nullptr);
  _exit(0);
}

}  // namespace

TEST(TracebackDeathTest, DumpFromAGoroutineWithTheSmallestStack) {
  EXPECT_EXIT(dump_from_a_goroutine_with_the_smallest_stack(), testing::ExitedWithCode(0),
              "^goroutine [0-9]+ \\[running\\]:\n.*goroutine 1 \\[semacquire\\]:");
}
