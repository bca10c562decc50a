// sysmon: the monitor thread (Go: sysmon in proc.go). It has no P and is not an M of the
// scheduler. Each round it retakes Ps from Ms stuck in blocking calls, flags goroutines that
// ran 10 ms without a break for preemption at their next safe point, polls the network if
// nobody did for 10 ms, prints GODEBUG=schedtrace lines, and serves SIGQUIT dumps. It
// sleeps 20 us, doubling to 10 ms after 50 rounds with nothing to retake, and on a note
// when every P is idle; as in Go, only a syscall's wake-up (wake_sysmon) sets the interval
// back to 20 us, so Ps turning idle and busy again do not keep it polling.
#pragma once
#include <cstdint>

namespace gort::rt {

void start_sysmon();
// From a signal handler: ask sysmon to print the goroutine dump and exit (SIGQUIT), headed
// as Go's is by the interrupted pc, the id of the M that took the signal (-1: a thread
// that is not an M) and the signal's code.
void sysmon_request_sigquit_dump(std::uintptr_t pc, std::int64_t m_id, int code);
// Whether a SIGQUIT arrived whose dump sysmon has not finished.
bool sigquit_requested();

// Whether sysmon is acting on the current run's processors (retaking a P from a blocking
// call, lending or retiring a stand-in, injecting what the poller found). It acts only
// while the run's main goroutine has started and no exit is requested, and a run's end
// waits until this is false, so that nothing sysmon began spills into the next run (a P
// it retook handed to an M after the next run had started: "acquirep: invalid p state").
bool sysmon_acting_on_run();
// A forked child: the parent's sysmon, which may have been acting, did not come along.
void sysmon_forget_after_fork();

}  // namespace gort::rt
