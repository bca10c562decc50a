// netpoll: epoll plus an eventfd to break a blocked wait. See netpoll.hpp.
#include "sched/netpoll.hpp"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <mutex>

#include "sched/fatal.hpp"

namespace gort::rt {

std::atomic<int32_t> netpoll_waiters{0};

namespace {

int epfd = -1;
int breakfd = -1;
std::atomic<uint32_t> break_pending{0};
std::atomic<bool> have_pwait2{true};
poll_target break_marker{nullptr};
void (*reregister_all)() = nullptr;

void create_instance() {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  breakfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd < 0 || breakfd < 0) fatal("netpoll_init: cannot create epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &break_marker;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0) fatal("netpoll_init: epoll_ctl");
}

}  // namespace

void netpoll_init() {
  static std::once_flag once;
  std::call_once(once, create_instance);
}

void netpoll_after_fork() {
  if (epfd < 0) return;  // never initialised
  close(epfd);
  close(breakfd);
  break_pending.store(0, std::memory_order_relaxed);
  create_instance();
  if (reregister_all != nullptr) reregister_all();
}

void set_netpoll_reregister(void (*fn)()) { reregister_all = fn; }

int netpoll_register(int fd, poll_target* target) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = target;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

int netpoll_unregister(int fd) {
  epoll_event ev{};
  return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : errno;
}

void netpoll_break() {
  uint32_t zero = 0;
  if (!break_pending.compare_exchange_strong(zero, 1)) return;  // one wake-up is enough
  uint64_t one = 1;
  while (write(breakfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

g* netpoll(int64_t delay_ns) {
  epoll_event events[128];
  int n;
  for (;;) {
    if (have_pwait2.load(std::memory_order_relaxed)) {
      timespec ts;
      timespec* tsp = nullptr;
      if (delay_ns >= 0) {
        ts.tv_sec = delay_ns / 1000000000;
        ts.tv_nsec = delay_ns % 1000000000;
        tsp = &ts;
      }
      n = epoll_pwait2(epfd, events, 128, tsp, nullptr);
      if (n < 0 && errno == ENOSYS) {
        have_pwait2.store(false);
        continue;
      }
    } else {
      // Go's conversion: < 0 forever, 0 poll, < 1 ms -> 1 ms, else whole milliseconds.
      int ms = delay_ns < 0 ? -1 : delay_ns == 0 ? 0 : delay_ns < 1000000 ? 1
               : delay_ns < 1000000000000LL ? int(delay_ns / 1000000) : 1000000000;
      n = epoll_wait(epfd, events, 128, ms);
    }
    if (n >= 0) break;
    if (errno != EINTR) fatal("netpoll: epoll_wait failed");
    if (delay_ns > 0) return nullptr;  // let the caller recompute its wait
  }
  g* head = nullptr;
  g* tail = nullptr;
  for (int i = 0; i < n; i++) {
    auto* t = static_cast<poll_target*>(events[i].data.ptr);
    if (t == &break_marker) {
      uint64_t v;
      while (read(breakfd, &v, sizeof v) < 0 && errno == EINTR) {
      }
      break_pending.store(0);
      continue;
    }
    g* list = t->on_event.load(std::memory_order_acquire)(t, events[i].events);
    while (list != nullptr) {
      g* next = list->schedlink;
      list->schedlink = nullptr;
      if (tail == nullptr)
        head = list;
      else
        tail->schedlink = list;
      tail = list;
      list = next;
    }
  }
  return head;
}

}  // namespace gort::rt
