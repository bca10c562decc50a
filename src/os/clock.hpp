// clock: the runtime's monotonic time base in nanoseconds (Go: nanotime). Every timer
// `when`, sysmon tick and deadline is on this clock.
#pragma once
#include <cstdint>
#include <ctime>

namespace gort::os {

inline int64_t nanotime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace gort::os
