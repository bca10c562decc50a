// limiter: a concurrency limiter on a buffered channel (Go's counting-semaphore idiom).
// 100 jobs start at once, but a job must put a token into `slots` (capacity 3) before it
// works and takes it out after, so at most 3 run at any moment.
//
//   $ ./limiter
//   100 jobs done, at most 3 at a time (limit 3)
#include <gort/gort.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>

using namespace std::chrono_literals;

namespace {
struct token {};  // chan struct{}: carries nothing, stores nothing
}  // namespace

int main() {
  return gort::run([] {
    constexpr int kJobs = 100, kLimit = 3;
    auto slots = gort::make_chan<token>(kLimit);
    std::atomic<int> running{0}, peak{0}, done{0};

    gort::sync::wait_group wg;
    for (int j = 0; j < kJobs; j++) {
      wg.go([&] {
        slots.send(token{});  // acquire: blocks while kLimit jobs hold a token
        int now = ++running;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        gort::time::sleep(200us);  // the work
        --running;
        done++;
        slots.recv();  // release
      });
    }
    wg.wait();
    std::printf("%d jobs done, at most %d at a time (limit %d)\n", done.load(), peak.load(),
                kLimit);
    return peak.load() <= kLimit ? 0 : 1;
  });
}
