// sieve: the concurrent prime sieve from the Go tour — a chain of goroutines, one per prime
// found so far, each filtering the multiples of its prime out of the stream it passes on.
//
//   $ ./sieve 25
//   2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 73 79 83 89 97
#include <gort/gort.hpp>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

// Sends 2, 3, 4, ... on out until quit is closed; then closes out.
void generate(gort::send_chan<int> out, gort::recv_chan<int> quit) {
  gort::defer close_out = [&] { out.close(); };
  for (int i = 2;; i++) {
    bool stop = false;
    gort::select(gort::case_send(out, i), gort::case_recv(quit, [&] { stop = true; }));
    if (stop) return;
  }
}

// Passes on the values of in that are not multiples of prime, until in is closed or quit
// is; then closes out, so the stage after it stops too.
void filter(gort::recv_chan<int> in, gort::send_chan<int> out, int prime,
            gort::recv_chan<int> quit) {
  gort::defer close_out = [&] { out.close(); };
  for (;;) {
    auto [v, ok] = in.recv_ok();
    if (!ok) return;
    if (v % prime == 0) continue;
    bool stop = false;
    gort::select(gort::case_send(out, v), gort::case_recv(quit, [&] { stop = true; }));
    if (stop) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 25;
  return gort::run([n] {
    auto quit = gort::make_chan<int>();
    gort::sync::wait_group wg;
    auto ch = gort::make_chan<int>();
    wg.go([out = ch.send_only(), quit] { generate(out, quit); });
    for (int i = 0; i < n; i++) {
      int prime = ch.recv();
      std::printf(i == 0 ? "%d" : " %d", prime);
      auto next = gort::make_chan<int>();
      wg.go([in = ch.recv_only(), out = next.send_only(), prime, quit] {
        filter(in, out, prime, quit);
      });
      ch = next;
    }
    std::printf("\n");
    quit.close();  // stop the whole chain
    wg.wait();
    std::printf("%d filter goroutines stopped\n", n);
  });
}
