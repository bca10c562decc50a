// checkdead: global deadlock detection (Go: checkdead in proc.go). Runs, under sched.lock,
// whenever an M goes idle. It is exact only in one direction, as Go's is: if any M is busy
// (running, in a blocking call, or blocked in the poller) or any timer is pending, it says
// nothing, so partial deadlocks are never reported.
//
// Unlike a Go program, a C++ program may have threads that are not goroutines and that can
// start or wake goroutines (gort::go, a wait_group done from a std::thread). While such a
// thread exists (threads.hpp: any the program started, before or after gort::run; not the
// sanitizers' helpers), the process is not declared deadlocked.
#include "sched/fatal.hpp"
#include "sched/netpoll.hpp"
#include "sched/sched.hpp"
#include "sched/threads.hpp"

namespace gort::rt {

void checkdead() {
  if (!sched.running.load(std::memory_order_acquire) || sched.exiting.load()) return;
  // A run that has not queued its main goroutine yet has nothing to judge: an M of the
  // previous run that goes idle now (woken late, say by a plain thread's ready) would
  // otherwise find no goroutine at all and report Goexit's deadlock.
  if (!sched.main_started.load(std::memory_order_acquire)) return;
  int32_t run = sched.mcount - sched.nmidle - sched.nmidlelocked;
  if (run > 0) return;
  if (run < 0) fatal("checkdead: inconsistent counts");
  // Goroutines parked on the poller wait for the network, not for each other.
  if (netpoll_waiters.load(std::memory_order_acquire) > 0) return;
  int grunning = 0;
  {
    os::rt_lock_guard lk(sched.allglock);
    for (g* gp : sched.allgs) {
      switch (gp->status.load(std::memory_order_acquire)) {
        case gstatus::waiting:
        case gstatus::copystack:
          grunning++;
          break;
        case gstatus::runnable:
        case gstatus::running:
        case gstatus::syscall:
          // Someone is about to run it (a ready racing with the last M going idle).
          return;
        default:
          break;
      }
    }
  }
  if (grunning == 0) {
    sched.lock.unlock();
    fatal("no goroutines (main called runtime.Goexit) - deadlock!");
  }
  int32_t procs = sched.nprocs.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++)
    if (sched.allp[i]->timer0when.load(std::memory_order_acquire) != 0) return;
  if (foreign_threads_exist()) {
    sched.deadlock_suspect.store(true);  // sysmon looks again once that thread may be gone
    return;
  }
  sched.lock.unlock();
  fatal("all goroutines are asleep - deadlock!");
}

}  // namespace gort::rt
