// pipeline: a producer/consumer pipeline with fan-out, fan-in and cancellation (Go blog,
// "Pipelines and cancellation"): gen emits numbers, three sq workers square them (fan-out),
// merge combines their outputs into one channel (fan-in), and closing `done` tells every
// stage to stop early.
//
//   $ ./pipeline
//   sum of squares of 1..1000 = 333833500
//   cancelled after 10 results; all 8 stage goroutines returned
#include <gort/gort.hpp>

#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

namespace {

struct token {};
using done_chan = gort::recv_chan<token>;

int stages_started = 0;  // goroutines started by the stages (main's goroutine only)

// Starts a stage's goroutine; wg.wait() returns once every one has returned.
template <class F>
void start(gort::sync::wait_group& wg, F&& f) {
  stages_started++;
  wg.go(std::forward<F>(f));
}

// Stage 1: sends 1..n, stopping early if done is closed.
gort::recv_chan<long> gen(done_chan done, long n, gort::sync::wait_group& wg) {
  auto out = gort::make_chan<long>();
  start(wg, [out, done, n] {
    gort::defer close_out = [&] { out.close(); };
    for (long i = 1; i <= n; i++) {
      bool stop = false;
      gort::select(gort::case_send(out, i), gort::case_recv(done, [&] { stop = true; }));
      if (stop) return;
    }
  });
  return out;
}

// Stage 2 (fanned out): squares what it receives.
gort::recv_chan<long> sq(done_chan done, gort::recv_chan<long> in, gort::sync::wait_group& wg) {
  auto out = gort::make_chan<long>();
  start(wg, [out, done, in] {
    gort::defer close_out = [&] { out.close(); };
    for (long v : in) {
      bool stop = false;
      gort::select(gort::case_send(out, v * v), gort::case_recv(done, [&] { stop = true; }));
      if (stop) return;
    }
  });
  return out;
}

// Stage 3 (fan-in): copies every input to one output, closed when all inputs are done.
gort::recv_chan<long> merge(done_chan done, std::vector<gort::recv_chan<long>> ins,
                            gort::sync::wait_group& wg) {
  auto out = gort::make_chan<long>();
  auto copiers = std::make_shared<gort::sync::wait_group>();
  for (auto& in : ins) {
    copiers->add(1);
    start(wg, [out, done, in, copiers] {
      gort::defer finished = [&] { copiers->done(); };
      for (long v : in) {
        bool stop = false;
        gort::select(gort::case_send(out, v), gort::case_recv(done, [&] { stop = true; }));
        if (stop) return;
      }
    });
  }
  start(wg, [out, copiers] {
    copiers->wait();
    out.close();
  });
  return out;
}

gort::recv_chan<long> build(done_chan done, long n, gort::sync::wait_group& wg) {
  auto numbers = gen(done, n, wg);
  std::vector<gort::recv_chan<long>> squares;
  for (int w = 0; w < 3; w++) squares.push_back(sq(done, numbers, wg));  // fan-out
  return merge(done, squares, wg);                                       // fan-in
}

}  // namespace

int main() {
  return gort::run([] {
    {
      // The whole stream.
      auto done = gort::make_chan<token>();
      gort::sync::wait_group wg;
      long sum = 0;
      for (long v : build(done, 1000, wg)) sum += v;
      wg.wait();
      std::printf("sum of squares of 1..1000 = %ld\n", sum);
    }
    {
      // Cancellation: take 10 results, then close done; every stage returns.
      auto done = gort::make_chan<token>();
      gort::sync::wait_group wg;
      stages_started = 0;
      auto results = build(done, 1000000, wg);
      int taken = 0;
      for (; taken < 10; taken++) results.recv();
      done.close();
      wg.wait();
      std::printf("cancelled after %d results; all %d stage goroutines returned\n", taken,
                  stages_started);
    }
  });
}
