// stw: stopping the world and resizing the set of Ps (Go: stopTheWorld, startTheWorld,
// procresize, GOMAXPROCS). The world stops cooperatively: every running goroutine is asked
// to yield at its next safe point, idle Ps and Ps in blocking calls are taken at once.
// A goroutine that computes without ever reaching a safe point delays the stop (there is
// no asynchronous preemption; see docs/preemption.md). Stand-in Ps (standin.hpp) stop like
// any P, and procresize retires them.
#pragma once
#include <cstdint>

#include "sched/runtime2.hpp"

namespace gort::rt {

void stop_the_world();
// Restarts with newprocs Ps (<= 0: unchanged).
void start_the_world(int32_t newprocs);
// sched.lock held, world stopped. Returns the Ps that have work and need an M.
p* procresize(int32_t nprocs);
// sched.lock held, nobody bound to pp: empties a P that goes out of use (Go: p.destroy). Its
// goroutines go to the head of the global queue, its timers to P 0, its free Gs and
// stacks to the shared pools; it ends dead. Its span cache is the caller's to flush.
void destroy_p(p* pp);
p* new_p(int32_t id);  // with its own span cache

// GOMAXPROCS requested while no run was active (used by the next gort::run); 0: none.
int32_t requested_procs();
int32_t set_gomaxprocs(int32_t n);  // returns the previous setting
void set_stack_size(size_t bytes);   // for goroutines created from now on
size_t get_stack_size();

}  // namespace gort::rt
