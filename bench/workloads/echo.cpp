// echo: TCP ping-pong over loopback. An echo server (a goroutine per connection, 512-byte
// reads written straight back) and 100 client goroutines, each with its own connection,
// sending 5,000 messages of 512 bytes one at a time and reading each echo in full before
// the next. check = bytes echoed back = 100 * 5000 * 512 = 256000000; ns_per_op is per
// message round trip; extra field msgs_per_s. Same program as bench/go/echo/main.go.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <gort/gort.hpp>

namespace net = gort::net;

namespace {

constexpr int kConns = 100;
constexpr int kMsgs = 5000;
constexpr size_t kSize = 512;

}  // namespace

int main() {
  return gort::run([] {
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::fprintf(stderr, "%s\n", err.message().c_str());
      return 1;
    }
    gort::go([ln = ln] {
      for (;;) {
        auto [c, aerr] = ln.accept();
        if (aerr) return;
        gort::go([c = c] {
          char buf[kSize];
          for (;;) {
            auto [n, rerr] = c.read(buf);
            if (rerr) break;
            if (c.write(std::string_view(buf, n)).second) break;
          }
          c.close();
        });
      }
    });
    std::string address = ln.address().string();
    std::atomic<int64_t> echoed{0};
    std::atomic<int> bad{0};
    gort::sync::wait_group wg;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kConns; i++) {
      wg.go([&, i] {
        auto [c, derr] = net::dial("tcp", address);
        if (derr) {
          std::fprintf(stderr, "%s\n", derr.message().c_str());
          bad++;
          return;
        }
        char out[kSize], in[kSize];
        int64_t got_total = 0;
        for (int k = 0; k < kMsgs; k++) {
          std::memset(out, 'a' + (i + k) % 26, kSize);
          if (c.write(std::string_view(out, kSize)).second) {
            bad++;
            break;
          }
          size_t got = 0;
          while (got < kSize) {
            auto [n, rerr] = c.read(std::span<char>(in + got, kSize - got));
            if (rerr) {
              bad++;
              break;
            }
            got += n;
          }
          if (got != kSize || std::memcmp(in, out, kSize) != 0) {
            bad++;
            break;
          }
          got_total += int64_t(got);
        }
        echoed += got_total;
        c.close();
      });
    }
    wg.wait();
    auto elapsed = std::chrono::steady_clock::now() - t0;
    ln.close();
    double ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    int64_t ops = int64_t(kConns) * kMsgs;
    std::printf("{\"workload\": \"echo\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
                "\"check\": %lld, \"msgs_per_s\": %.0f}\n",
                ns / double(ops), static_cast<long long>(ops),
                static_cast<long long>(bad.load() ? -1 : echoed.load()), double(ops) * 1e9 / ns);
    return 0;
  });
}
