// ring: four goroutines take turns printing 1 2 3 4 1 2 3 4 ... by passing a token around
// a ring of unbuffered channels: goroutine i waits for the token on ring[i], prints i+1 and
// passes the token to ring[(i+1) % 4]. No locks, and the order is exact.
//
//   $ ./ring 3
//   1 2 3 4 1 2 3 4 1 2 3 4
#include <gort/gort.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  return gort::run([rounds] {
    constexpr int kN = 4;
    gort::chan<int> ring[kN];  // the token is the number of turns taken so far
    for (auto& c : ring) c = gort::make_chan<int>();
    auto done = gort::make_chan<int>();
    const int turns = rounds * kN;

    gort::sync::wait_group wg;
    for (int i = 0; i < kN; i++) {
      wg.go([i, turns, in = gort::recv_chan<int>(ring[i]),
             out = gort::send_chan<int>(ring[(i + 1) % kN]), done = done.send_only()] {
        for (int t : in) {  // until the ring is closed
          std::printf(t == 0 ? "%d" : " %d", i + 1);
          if (t + 1 == turns)
            done.send(t + 1);  // the last turn: hand the token back to main
          else
            out.send(t + 1);
        }
      });
    }
    ring[0].send(0);  // start with goroutine 1
    done.recv();
    std::printf("\n");
    for (auto& c : ring) c.close();
    wg.wait();
  });
}
