// Tests of batched advice on this process's memory (os/vm.hpp): one madvise_ranges call
// maps exactly the ranges it is given, threads call it at once (it holds no lock across the
// system call, which takes milliseconds on big batches), and a forked child's calls act on
// the child, not on the parent whose pidfd it inherited.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "os/vm.hpp"

namespace {

size_t page() { return size_t(sysconf(_SC_PAGESIZE)); }

// A private mapping of `pages` pages, none of them touched; unmapped when it goes.
struct fresh_mapping {
  explicit fresh_mapping(size_t pages) : len(pages * page()) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~fresh_mapping() {
    if (base != nullptr) munmap(base, len);
  }
  fresh_mapping(const fresh_mapping&) = delete;
  fresh_mapping& operator=(const fresh_mapping&) = delete;

  // Which pages are resident (mincore), one bool per page.
  std::vector<bool> resident() const {
    std::vector<unsigned char> v(len / page());
    if (mincore(base, len, v.data()) != 0) return {};
    return std::vector<bool>(v.begin(), v.end());
  }
  // The ranges of every `step`-th page, from page `first`.
  std::vector<iovec> every(size_t step, size_t first = 0) const {
    std::vector<iovec> r;
    for (size_t i = first; i < len / page(); i += step) r.push_back({base + i * page(), page()});
    return r;
  }

  char* base;
  size_t len;
};

// Whether this kernel takes process_madvise with MADV_POPULATE_WRITE for the caller itself
// (Linux >= 6.13); madvise_ranges returns false otherwise, and its callers do without.
bool batched_populate_works() {
  fresh_mapping m(1);
  std::vector<iovec> r = m.every(1);
  return m.base != nullptr && gort::os::madvise_ranges(r.data(), r.size(), gort::os::kMadvPopulateWrite);
}

TEST(MadviseRanges, PopulatesExactlyTheGivenRanges) {
  if (!batched_populate_works()) GTEST_SKIP() << "no process_madvise populate on this kernel";
  fresh_mapping m(64);
  ASSERT_NE(m.base, nullptr);
  std::vector<iovec> r = m.every(3, 1);  // pages 1, 4, 7, ...
  ASSERT_TRUE(gort::os::madvise_ranges(r.data(), r.size(), gort::os::kMadvPopulateWrite));
  std::vector<bool> res = m.resident();
  ASSERT_EQ(res.size(), 64u);
  for (size_t i = 0; i < 64; i++) EXPECT_EQ(res[i], i % 3 == 1) << "page " << i;
  ASSERT_TRUE(gort::os::madvise_ranges(r.data(), r.size(), MADV_DONTNEED));
  for (bool b : m.resident()) EXPECT_FALSE(b);
}

// Threads populating and dropping their own ranges at the same time: every call does all
// of its work (none is refused or half done), and each thread's pages end as it left them.
TEST(MadviseRanges, ThreadsCallAtTheSameTime) {
  if (!batched_populate_works()) GTEST_SKIP() << "no process_madvise populate on this kernel";
  constexpr int kThreads = 4, kRounds = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0), wrong(kThreads, 0);
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      fresh_mapping m(32);
      std::vector<iovec> r = m.every(2);
      for (int i = 0; i < kRounds; i++) {
        if (!gort::os::madvise_ranges(r.data(), r.size(), gort::os::kMadvPopulateWrite)) failures[t]++;
        if (i + 1 == kRounds) break;  // the last round leaves the pages mapped
        if (!gort::os::madvise_ranges(r.data(), r.size(), MADV_DONTNEED)) failures[t]++;
      }
      std::vector<bool> res = m.resident();
      for (size_t i = 0; i < res.size(); i++)
        if (res[i] != (i % 2 == 0)) wrong[t]++;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; t++) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
  }
}

// The pidfd a child inherits names its parent: the child's calls must open its own, or they
// would advise the parent's address space (where the child's new mapping does not exist).
TEST(MadviseRanges, AForkedChildAdvisesItself) {
  if (!batched_populate_works()) GTEST_SKIP() << "no process_madvise populate on this kernel";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    fresh_mapping m(8);  // the child's own: no such mapping in the parent
    std::vector<iovec> r = m.every(2);
    bool ok = m.base != nullptr && gort::os::madvise_ranges(r.data(), r.size(), gort::os::kMadvPopulateWrite);
    std::vector<bool> res = m.resident();
    for (size_t i = 0; ok && i < res.size(); i++) ok = res[i] == (i % 2 == 0);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's populate missed its own pages";
}

}  // namespace
