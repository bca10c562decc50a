// sema: the runtime semaphore (Go: sema.go semacquire/semrelease) — parks a goroutine on an
// address and readies it. The one mechanism under every gort::sync primitive.
//
// A table of 251 roots, chosen by address. Each root has a lock and a list of the distinct
// addresses waited on in it (Go keeps them in a treap; a list is as good for the handful a
// root holds), and each address has its own FIFO of waiters. *addr counts available
// tickets. Waiters that are plain threads (not goroutines) sleep on a note instead of
// parking.
#pragma once
#include <atomic>
#include <cstdint>

#include "sched/runtime2.hpp"

namespace gort::rt {

// Waits until *addr > 0, then decrements it. With lifo the waiter queues at the front of
// addr's queue (a mutex waiter that was woken and lost the race goes back first).
void semacquire(std::atomic<uint32_t>* addr, bool lifo = false,
                wait_reason reason = wait_reason::semacquire);
// Increments *addr and wakes the first waiter. With handoff the ticket goes straight to the
// woken waiter and the caller yields its P to it (Go's starvation-mode hand-off).
void semrelease(std::atomic<uint32_t>* addr, bool handoff = false);
// fork: every root's lock, held across fork() (an on_fork hook, sched/fork.hpp), so that a
// forked child's later run finds every waiter list whole.
void semtable_lock_all();
void semtable_unlock_all();

}  // namespace gort::rt
