// vm_rss: the resident-set figure the workload programs report (parked, echo-idle).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// The VmRSS line of /proc/self/status in KiB, or -1.
inline int64_t vm_rss_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) != 0) continue;
    char* end = nullptr;
    long long v = std::strtoll(line + 6, &end, 10);
    if (end != line + 6) kb = v;
    break;
  }
  std::fclose(f);
  return kb;
}
