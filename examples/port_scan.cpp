// port_scan: scans a range of localhost ports with a bounded number of concurrent dials
// (a buffered channel as the semaphore) and a context deadline after which the remaining
// dials give up (Go: net.Dialer.DialContext with context.WithTimeout).
//
//   port_scan 127.0.0.1 1 1024       scan ports 1..1024, 100 dials at a time, 2 s in all
//   port_scan --selftest             open three listeners, scan a window of ports around
//                                    each, and report which of the three were found
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gort/gort.hpp>

namespace net = gort::net;
using namespace std::chrono_literals;

namespace {

constexpr int kConcurrency = 100;

// Returns the open ports of host in [from, to]; every dial ends by ctx's deadline.
std::vector<int> scan(const gort::context::context& ctx, const std::string& host, int from, int to,
                      int* timed_out) {
  auto slots = gort::make_chan<int>(kConcurrency);  // at most kConcurrency dials at once
  auto results = gort::make_chan<int>(to - from + 1);
  std::atomic<int> late{0};
  gort::sync::wait_group wg;
  for (int port = from; port <= to; port++) {
    slots.send(1);
    wg.go([&, port] {
      auto [c, err] = net::dial_context(ctx, "tcp", net::join_host_port(host, std::to_string(port)));
      if (!err) {
        results.send(port);
        c.close();
      } else if (gort::errors::is(err, gort::context::deadline_exceeded)) {
        late++;
      }
      slots.recv();
    });
  }
  wg.wait();
  results.close();
  std::vector<int> open;
  for (int p : results) open.push_back(p);
  std::sort(open.begin(), open.end());
  *timed_out = late.load();
  return open;
}

}  // namespace

int main(int argc, char** argv) {
  return gort::run([&] {
    auto [ctx, cancel] = gort::context::with_timeout(gort::context::background(), 2s);
    gort::defer stop = [&cancel = cancel] { cancel(); };
    int timed_out = 0;
    if (argc > 1 && std::strcmp(argv[1], "--selftest") == 0) {
      std::vector<net::listener> mine;
      std::vector<int> ports;
      for (int i = 0; i < 3; i++) {
        auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
        if (err) return 1;
        mine.push_back(ln);
        ports.push_back(ln.address().port());
      }
      // A window of 101 ports around each listener (other programs' ports may show up
      // too; only ours are counted).
      int found = 0;
      for (int p : ports) {
        auto open = scan(ctx, "127.0.0.1", std::max(1, p - 50), std::min(65535, p + 50), &timed_out);
        found += std::find(open.begin(), open.end(), p) != open.end();
      }
      std::printf("found %d of our 3 listeners\n", found);
      for (auto& ln : mine) ln.close();
      return 0;
    }
    std::string host = argc > 1 ? argv[1] : "127.0.0.1";
    int from = argc > 2 ? std::atoi(argv[2]) : 1;
    int to = argc > 3 ? std::atoi(argv[3]) : 1024;
    auto open = scan(ctx, host, from, to, &timed_out);
    for (int p : open) std::printf("%d open\n", p);
    std::printf("%zu open, %d not answered before the deadline\n", open.size(), timed_out);
    return 0;
  });
}
