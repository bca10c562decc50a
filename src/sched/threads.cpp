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

std::vector<int> baseline;

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

}  // namespace

void record_baseline_threads() {
  int self = int(gettid());
  for_each_task([&](int tid) {
    if (tid != self) baseline.push_back(tid);
  });
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
