// hello: the README's first example — goroutines, a wait group and a sleep.
#include <gort/gort.hpp>

#include <cstdio>
#include <mutex>

using namespace std::chrono_literals;

int main() {
  return gort::run([] {
    gort::sync::wait_group wg;
    std::mutex print;
    for (int i = 0; i < 10; i++) {
      wg.go([i, &print] {
        gort::time::sleep(i * 1ms);  // finish in order
        std::lock_guard lk(print);
        std::printf("hello from goroutine %d\n", i);
      });
    }
    wg.wait();
    std::printf("all 10 goroutines done\n");
  });
}
