// threads: see threads.hpp. Reads /proc/self/task; only runs when a deadlock is suspected.
#include "sched/threads.hpp"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "malloc/malloc.hpp"
#include "sched/sched.hpp"

namespace gort::rt {
namespace {

// Threads that are never counted as possible wakers: those that existed when the program
// was loaded (other than the loading thread), and those that appeared while the runtime
// started its own (a sanitizer's helper thread starts with the first pthread_create).
std::vector<int> baseline;
std::vector<int> before_start;

template <class F>
void for_each_task(F f) {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    f(atoi(e->d_name));
  }
  closedir(d);
}

// At load time (before main, so before any user thread): every thread but the loader.
[[gnu::constructor]] void record_load_time_threads() {
  int self = int(gettid());
  for_each_task([&](int tid) {
    if (tid != self) baseline.push_back(tid);
  });
}

}  // namespace

void runtime_threads_starting() {
  for_each_task([&](int tid) { before_start.push_back(tid); });
}

void runtime_threads_started() {
  for_each_task([&](int tid) {
    if (std::find(before_start.begin(), before_start.end(), tid) == before_start.end())
      baseline.push_back(tid);
  });
  before_start.clear();
}

bool foreign_threads_exist() {
  bool found = false;
  for_each_task([&](int tid) {
    if (found || tid == sched.sysmon_tid || tid == malloc::scavenger_tid()) return;
    if (sched.m0 != nullptr && tid == sched.m0->tid) return;
    for (m* mp : sched.allm)
      if (mp->tid == tid) return;
    if (std::find(baseline.begin(), baseline.end(), tid) != baseline.end()) return;
    found = true;
  });
  return found;
}

}  // namespace gort::rt
