// notify_list: the ticket-based wait list under sync::cond (Go: sema.go notifyList,
// notifyListAdd/Wait/NotifyOne/NotifyAll).
//
// A waiter first takes a ticket (notify_list_add, lock-free, before it unlocks the user's
// lock), then waits for that ticket. notify is the next ticket to wake; wait the next ticket
// to hand out. Invariants: notify <= wait (mod 2^32); a waiter whose ticket is below notify
// was already signalled and does not block; signal wakes the oldest outstanding ticket,
// broadcast all of them.
#pragma once
#include <atomic>
#include <cstdint>

#include "os/lock.hpp"

namespace gort::rt {

struct notify_waiter;

struct notify_list {
  std::atomic<uint32_t> wait{0};    // next ticket to hand out
  std::atomic<uint32_t> notify{0};  // next ticket to wake (written under lock)
  os::rt_mutex lock;
  notify_waiter* head = nullptr;
  notify_waiter* tail = nullptr;
};

uint32_t notify_list_add(notify_list* l);
void notify_list_wait(notify_list* l, uint32_t ticket);
void notify_list_notify_one(notify_list* l);
void notify_list_notify_all(notify_list* l);

}  // namespace gort::rt
