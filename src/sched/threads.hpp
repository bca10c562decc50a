// threads: which OS threads of the process are not the runtime's (for checkdead).
#pragma once

namespace gort::rt {

// Bracket the runtime's first start (sysmon's thread): threads that appear in between
// (a sanitizer's helper, started by the first pthread_create) are never counted as
// possible wakers, nor are threads that existed when the program was loaded. Threads the
// program starts itself, before or after gort::run, are.
void runtime_threads_starting();
void runtime_threads_started();
// True if a thread exists that is neither an M, sysmon, the scavenger, nor one of those.
// sched.lock held.
bool foreign_threads_exist();

}  // namespace gort::rt
