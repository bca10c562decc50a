// procs_guard: puts GOMAXPROCS back at scope exit. gort::gomaxprocs keeps its setting for
// later runs in the process, so a test that changes it inside gort::run holds one of these
// outside the run. no_standins: no stand-in P is lent in its scope (GODEBUG=asyncpreemptoff=1's
// setting), for a test whose claim is about GOMAXPROCS Ps exactly: on a loaded machine a
// goroutine whose thread the OS takes away for 11 ms looks like a hog and gets one.
#pragma once
#include <atomic>

#include "gort/gort.hpp"
#include "sched/standin.hpp"

class procs_guard {
 public:
  procs_guard() : saved_(gort::gomaxprocs(0)) {}
  ~procs_guard() { gort::gomaxprocs(saved_); }
  procs_guard(const procs_guard&) = delete;
  procs_guard& operator=(const procs_guard&) = delete;

 private:
  int saved_;
};

class no_standins {
 public:
  no_standins() : were_off_(gort::rt::standins_off.exchange(true)) {}
  ~no_standins() { gort::rt::standins_off.store(were_off_); }
  no_standins(const no_standins&) = delete;
  no_standins& operator=(const no_standins&) = delete;

 private:
  bool were_off_;
};
