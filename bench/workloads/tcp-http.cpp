// tcp-http: a goroutine per connection; each reads request lines (buffered, as Go's
// bufio.Reader.ReadSlice) until the blank line, then writes a fixed 200 response and keeps
// the connection alive. Listens on 127.0.0.1:PORT (default 18080). On SIGTERM or SIGINT it
// prints the JSON line with the number of requests served as `check` and exits 0; the load
// (wrk -t1 -c100 -d10s) and its figures come from bench/net-load. Same program as
// bench/go/tcp-http/main.go.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gort/gort.hpp>

namespace net = gort::net;

namespace {

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

std::atomic<int64_t> served{0};
volatile std::sig_atomic_t stop = 0;

void on_signal(int) { stop = 1; }

void handle(net::conn c) {
  char buf[4096];  // Go: bufio.NewReader's default size
  size_t r = 0, w = 0;
  for (;;) {
    for (;;) {  // one request head: lines until "\r\n" or "\n"
      auto* nl = static_cast<char*>(std::memchr(buf + r, '\n', w - r));
      if (nl == nullptr) {
        if (r > 0) {
          std::memmove(buf, buf + r, w - r);
          w -= r;
          r = 0;
        }
        if (w == sizeof buf) {  // a line longer than the buffer (Go: ErrBufferFull)
          c.close();
          return;
        }
        auto [n, err] = c.read(std::span<char>(buf + w, sizeof buf - w));
        if (err) {
          c.close();
          return;
        }
        w += n;
        continue;
      }
      size_t len = size_t(nl - (buf + r)) + 1;
      r += len;
      if (len <= 2) break;
    }
    served.fetch_add(1, std::memory_order_relaxed);
    if (c.write(kResponse).second) break;
  }
  c.close();
}

}  // namespace

int main() {
  const char* port = std::getenv("PORT");
  std::string address = std::string("127.0.0.1:") + (port != nullptr && *port ? port : "18080");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return gort::run([&] {
    auto [ln, err] = net::listen("tcp", address);
    if (err) {
      std::fprintf(stderr, "%s\n", err.message().c_str());
      return 1;
    }
    gort::go([ln = ln] {
      for (;;) {
        auto [c, aerr] = ln.accept();
        if (aerr) return;
        gort::go(handle, c);
      }
    });
    using namespace std::chrono_literals;
    while (!stop) gort::time::sleep(20ms);
    long long n = served.load();
    std::printf("{\"workload\": \"tcp-http\", \"impl\": \"gort\", \"ns_per_op\": 0, \"ops\": %lld, \"check\": %lld}\n", n, n);
    std::fflush(stdout);
    return 0;
  });
}
