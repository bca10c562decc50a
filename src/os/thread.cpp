// thread: see thread.hpp.
#include "os/thread.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

namespace gort::os {

int ncpu() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

bool start_thread(void* (*fn)(void*), void* arg, size_t stack_size) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (stack_size != 0) pthread_attr_setstacksize(&attr, stack_size);
  pthread_t th;
  int err = pthread_create(&th, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  return err == 0;
}

namespace {
struct big_stack_call {
  void (*fn)(void*);
  void* arg;
};
void* big_stack_main(void* p) {
  auto* c = static_cast<big_stack_call*>(p);
  c->fn(c->arg);
  return nullptr;
}
}  // namespace

void run_on_big_stack(void (*fn)(void*), void* arg) {
  big_stack_call call{fn, arg};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64u << 20);  // reserved; committed as used
  pthread_t th;
  if (pthread_create(&th, &attr, big_stack_main, &call) == 0) {
    pthread_join(th, nullptr);
  } else {
    fn(arg);
  }
  pthread_attr_destroy(&attr);
}

void current_thread_stack(uintptr_t* lo, size_t* size) {
  *lo = 0;
  *size = 0;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr;
  pthread_attr_getstack(&attr, &addr, size);
  *lo = reinterpret_cast<uintptr_t>(addr);
  pthread_attr_destroy(&attr);
}

}  // namespace gort::os
