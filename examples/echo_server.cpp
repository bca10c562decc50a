// echo_server: an echo server and its client over TCP (Go: the classic net.Listen/Accept loop
// with a goroutine per connection, and net.Dial).
//
//   echo_server server 127.0.0.1:7000        serve until killed
//   echo_server client 127.0.0.1:7000 hi yo  send each word, print the echo
//   echo_server                       both in one process: a server on a free port and
//                                     three clients talking to it at once
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gort/gort.hpp>

namespace net = gort::net;

namespace {

// The server: one goroutine per connection (counted in conns), echoing until the peer
// closes.
void serve(const net::listener& ln, gort::sync::wait_group& conns) {
  for (;;) {
    auto [c, err] = ln.accept();
    if (err) return;  // the listener was closed
    conns.go([c = c] {
      char buf[4096];
      for (;;) {
        auto [n, rerr] = c.read(buf);
        if (rerr) break;  // io::eof: the client is done
        if (c.write(std::string_view(buf, n)).second) break;
      }
      c.close();
    });
  }
}

// The client: sends each message and reads back exactly as many bytes.
gort::error talk(const std::string& address, const std::vector<std::string>& msgs,
                 std::vector<std::string>* replies) {
  auto [c, err] = net::dial("tcp", address);
  if (err) return err;
  for (const auto& m : msgs) {
    if (auto [n, werr] = c.write(m); werr) return werr;
    std::string got(m.size(), '\0');
    size_t have = 0;
    while (have < got.size()) {
      auto [n, rerr] = c.read(std::span<char>(got.data() + have, got.size() - have));
      if (rerr) return rerr;
      have += n;
    }
    replies->push_back(got);
  }
  return c.close();
}

}  // namespace

int main(int argc, char** argv) {
  return gort::run([&] {
    if (argc >= 3 && std::strcmp(argv[1], "server") == 0) {
      auto [ln, err] = net::listen("tcp", argv[2]);
      if (err) {
        std::fprintf(stderr, "%s\n", err.message().c_str());
        return 1;
      }
      std::printf("echo server on %s\n", ln.address().string().c_str());
      std::fflush(stdout);
      gort::sync::wait_group conns;
      serve(ln, conns);
      return 0;
    }
    if (argc >= 3 && std::strcmp(argv[1], "client") == 0) {
      std::vector<std::string> msgs(argv + 3, argv + argc), replies;
      if (auto err = talk(argv[2], msgs, &replies)) {
        std::fprintf(stderr, "%s\n", err.message().c_str());
        return 1;
      }
      for (auto& r : replies) std::printf("%s\n", r.c_str());
      return 0;
    }
    // Demo: server and clients in one program.
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    if (err) {
      std::fprintf(stderr, "%s\n", err.message().c_str());
      return 1;
    }
    gort::sync::wait_group all;
    all.go([&, ln = ln] { serve(ln, all); });
    std::string address = ln.address().string();
    const char* names[] = {"alpha", "beta", "gamma"};
    std::vector<std::string> replies[3];
    gort::error errs[3];
    gort::sync::wait_group wg;
    for (int i = 0; i < 3; i++) {
      wg.go([&, i] {
        std::vector<std::string> msgs;
        for (int k = 1; k <= 3; k++) msgs.push_back(std::string(names[i]) + "-" + std::to_string(k));
        errs[i] = talk(address, msgs, &replies[i]);
      });
    }
    wg.wait();
    for (int i = 0; i < 3; i++) {
      if (errs[i]) {
        std::printf("client %s: %s\n", names[i], errs[i].message().c_str());
        return 1;
      }
      std::printf("client %s got:", names[i]);
      for (auto& r : replies[i]) std::printf(" %s", r.c_str());
      std::printf("\n");
    }
    ln.close();
    all.wait();
    // A dial to the closed listener is refused: Go's error text.
    auto [c, derr] = net::dial("tcp", address);
    bool refused = gort::errors::is(derr, gort::os::errno_err(ECONNREFUSED));
    std::printf("after close: %s\n", refused ? "connection refused" : "not refused?");
    (void)c;
    return 0;
  });
}
