// gdb_target: a program for the tools/gort-gdb.py test — three goroutines parked in
// parked_here, one sleeping, then a SIGTRAP so gdb stops with every goroutine parked.
#include <gort/gort.hpp>
#include <csignal>
using namespace std::chrono_literals;
__attribute__((noinline)) void parked_here(gort::sync::wait_group& wg) { wg.wait(); }
int main() {
  return gort::run([] {
    gort::sync::wait_group never; never.add(1);
    for (int i = 0; i < 3; i++) gort::go([&] { parked_here(never); });
    gort::go([] { gort::time::sleep(1h); });
    gort::time::sleep(50ms);
    std::raise(SIGTRAP);
  });
}
