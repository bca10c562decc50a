// sema: the runtime semaphore (Go: sema.go semacquire/semrelease) — parks a goroutine on an
// address and readies it. The one mechanism under every gort::sync primitive.
//
// A table of 251 roots, chosen by address, each with a lock and a FIFO of waiters for the
// addresses hashed to it. *addr counts available tickets. Waiters that are plain threads
// (not goroutines) sleep on a note instead of parking.
#pragma once
#include <atomic>
#include <cstdint>

namespace gort::rt {

// Waits until *addr > 0, then decrements it.
void semacquire(std::atomic<uint32_t>* addr);
// Increments *addr and wakes one waiter. With handoff, the ticket goes straight to the
// woken waiter (Go's starvation-mode hand-off).
void semrelease(std::atomic<uint32_t>* addr, bool handoff = false);

}  // namespace gort::rt
