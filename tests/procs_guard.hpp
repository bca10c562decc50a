// procs_guard: puts GOMAXPROCS back at scope exit. gort::gomaxprocs keeps its setting for
// later runs in the process, so a test that changes it inside gort::run holds one of these
// outside the run.
#pragma once
#include "gort/gort.hpp"

class procs_guard {
 public:
  procs_guard() : saved_(gort::gomaxprocs(0)) {}
  ~procs_guard() { gort::gomaxprocs(saved_); }
  procs_guard(const procs_guard&) = delete;
  procs_guard& operator=(const procs_guard&) = delete;

 private:
  int saved_;
};
