// echo-idle: resident memory of a server holding 10,000 idle connections. The server
// accepts 10,000 connections from a client process (this program re-run with
// ECHO_IDLE_CLIENT=<addr>, plain blocking sockets), starts a goroutine per connection that
// blocks reading into a 512-byte buffer, waits 200 ms once all are in, and reads its own
// VmRSS. check = connections held (10000); extra fields rss_kb (the server's VmRSS at that
// moment) and total_ms; ns_per_op is accept-and-spawn time per connection. Same procedure
// as bench/go/echo-idle/main.go. Needs `ulimit -n` above 10,000.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gort/gort.hpp>

#include "vm_rss.hpp"

extern char** environ;
namespace net = gort::net;

namespace {

constexpr int kConns = 10000;

// The client: kConns blocking connects to 127.0.0.1:port, then waits to be killed.
int client(int port) {
  std::vector<int> fds;
  for (int i = 0; i < kConns; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(uint16_t(port));
    if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::perror("echo-idle client");
      return 1;
    }
    fds.push_back(s);
  }
  for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* p = std::getenv("ECHO_IDLE_CLIENT")) return client(std::atoi(p));
  (void)argc;
  return gort::run([&] {
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::fprintf(stderr, "%s\n", err.message().c_str());
      return 1;
    }
    std::string env = "ECHO_IDLE_CLIENT=" + std::to_string(ln.address().port());
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; e++) envp.push_back(*e);
    envp.push_back(env.data());
    envp.push_back(nullptr);
    pid_t child;
    char* child_argv[] = {argv[0], nullptr};
    if (posix_spawn(&child, "/proc/self/exe", nullptr, nullptr, child_argv, envp.data()) != 0) {
      std::perror("posix_spawn");
      return 1;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::atomic<int> reading{0};
    for (int i = 0; i < kConns; i++) {
      auto [c, aerr] = ln.accept();
      if (aerr) {
        std::fprintf(stderr, "%s\n", aerr.message().c_str());
        kill(child, SIGKILL);
        return 1;
      }
      gort::go([c = c, &reading] {
        char buf[512];
        reading.fetch_add(1, std::memory_order_relaxed);
        for (;;) {
          auto [n, rerr] = c.read(buf);
          if (rerr) break;
        }
        c.close();
      });
    }
    auto accept_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - t0).count();
    using namespace std::chrono_literals;
    while (reading.load() < kConns) gort::time::sleep(1ms);
    gort::time::sleep(200ms);
    int64_t rss = vm_rss_kb();
    auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0).count();
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    std::printf("{\"workload\": \"echo-idle\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %d, "
                "\"check\": %d, \"rss_kb\": %lld, \"total_ms\": %lld}\n",
                double(accept_ns) / kConns, kConns, reading.load(), static_cast<long long>(rss),
                static_cast<long long>(total_ms));
    std::fflush(stdout);
    std::_Exit(0);  // 10,000 goroutines parked in read: no need to unwind them
  });
}
