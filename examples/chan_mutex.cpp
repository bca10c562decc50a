// chan_mutex: a mutex built on a channel of capacity 1 — locked while the channel holds a
// value. Lock is a send, unlock a receive; try_lock and lock_timeout are selects.
//
//   $ ./chan_mutex
//   counter = 8000 (8 goroutines x 1000 increments)
//   try_lock while held: false
//   lock_timeout(5ms) while held: false
//   lock_timeout(1s) after unlock: true
//   unlock of unlocked mutex: panic: sync: unlock of unlocked mutex
#include <gort/gort.hpp>

#include <cstdio>

using namespace std::chrono_literals;

namespace {

class chan_mutex {
 public:
  void lock() { ch_.send(token{}); }
  // Panics (gort::panic_error) when the mutex is not locked.
  void unlock() {
    if (!ch_.try_recv()) gort::panic("sync: unlock of unlocked mutex");
  }
  bool try_lock() { return ch_.try_send(token{}); }
  // Waits at most d for the lock; true if it was taken.
  template <class Rep, class Period>
  bool lock_timeout(std::chrono::duration<Rep, Period> d) {
    gort::time::timer t(d);
    bool locked = gort::select(gort::case_send(ch_, token{}), gort::case_recv(t.c)) == 0;
    t.stop();
    return locked;
  }
  bool is_locked() const { return ch_.len() == 1; }

 private:
  struct token {};
  gort::chan<token> ch_ = gort::make_chan<token>(1);
};

}  // namespace

int main() {
  return gort::run([] {
    chan_mutex mu;
    long counter = 0;
    gort::sync::wait_group wg;
    for (int g = 0; g < 8; g++) {
      wg.go([&] {
        for (int i = 0; i < 1000; i++) {
          mu.lock();
          counter++;
          mu.unlock();
        }
      });
    }
    wg.wait();
    std::printf("counter = %ld (8 goroutines x 1000 increments)\n", counter);

    mu.lock();
    std::printf("try_lock while held: %s\n", mu.try_lock() ? "true" : "false");
    std::printf("lock_timeout(5ms) while held: %s\n", mu.lock_timeout(5ms) ? "true" : "false");
    gort::go([&mu] {
      gort::time::sleep(2ms);
      mu.unlock();  // another goroutine may unlock, as with sync.Mutex
    });
    bool got = mu.lock_timeout(1s);
    std::printf("lock_timeout(1s) after unlock: %s (is_locked: %s)\n", got ? "true" : "false",
                mu.is_locked() ? "true" : "false");
    mu.unlock();
    try {
      mu.unlock();
    } catch (const gort::panic_error& e) {
      std::printf("unlock of unlocked mutex: panic: %s\n", e.what());
    }
  });
}
