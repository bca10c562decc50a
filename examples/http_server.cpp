// http_server: a tiny HTTP/1.1 server — a goroutine per connection, keep-alive, one fixed
// response for every request (the server the tcp-http benchmark drives with wrk). The
// accept loop backs off on temporary errors such as EMFILE, as Go's net/http does.
//
//   http_server 127.0.0.1:8080     serve until killed (try: curl -v http://127.0.0.1:8080/)
//   http_server --selftest         serve on a free port, make four requests over two
//                                  keep-alive connections with net::dial, print what came back
#include <cstdio>
#include <cstring>
#include <string>

#include <gort/gort.hpp>

namespace net = gort::net;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

// Serves one connection: reads request heads (up to the blank line) and answers each.
void handle(net::conn c) {
  char buf[4096];
  std::string pending;
  for (;;) {
    size_t end;
    while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
      auto [n, err] = c.read(buf);
      if (err) {
        c.close();
        return;
      }
      pending.append(buf, n);
    }
    pending.erase(0, end + 4);
    if (c.write(kResponse).second) break;
  }
  c.close();
}

// Go: net/http's Serve loop. Connection goroutines are counted in conns.
void serve(const net::listener& ln, gort::sync::wait_group& conns) {
  auto delay = 0ms;
  for (;;) {
    auto [c, err] = ln.accept();
    if (err) {
      if (err.temporary()) {  // EMFILE, ENFILE, ...: wait and try again
        delay = delay == 0ms ? 5ms : std::min(delay * 2, std::chrono::milliseconds(1000));
        std::fprintf(stderr, "http: accept error: %s; retrying in %lldms\n", err.message().c_str(),
                     static_cast<long long>(delay.count()));
        gort::time::sleep(delay);
        continue;
      }
      return;
    }
    delay = 0ms;
    conns.go([c = c] { handle(c); });
  }
}

// One client connection making `count` requests; prints each status line and body.
void client(const std::string& address, int id, int count) {
  auto [c, err] = net::dial("tcp", address);
  if (err) {
    std::printf("client %d: %s\n", id, err.message().c_str());
    return;
  }
  for (int i = 0; i < count; i++) {
    std::string req = "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    c.write(req);
    std::string resp;
    char buf[256];
    while (resp.size() < kResponse.size()) {
      auto [n, rerr] = c.read(buf);
      if (rerr) break;
      resp.append(buf, n);
    }
    std::string status = resp.substr(0, resp.find("\r\n"));
    std::string body = resp.substr(resp.find("\r\n\r\n") + 4);
    std::printf("conn %d request %d: %s | %s\n", id, i, status.c_str(), body.c_str());
  }
  c.close();
}

}  // namespace

int main(int argc, char** argv) {
  bool selftest = argc > 1 && std::strcmp(argv[1], "--selftest") == 0;
  std::string address = selftest ? "127.0.0.1:0" : argc > 1 ? argv[1] : "127.0.0.1:8080";
  return gort::run([&] {
    auto [ln, err] = net::listen("tcp", address);
    if (err) {
      std::fprintf(stderr, "%s\n", err.message().c_str());
      return 1;
    }
    if (!selftest) {
      std::printf("listening on http://%s/\n", ln.address().string().c_str());
      std::fflush(stdout);
      gort::sync::wait_group conns;
      serve(ln, conns);
      return 0;
    }
    gort::sync::wait_group all;
    all.go([&, ln = ln] { serve(ln, all); });
    client(ln.address().string(), 1, 3);
    client(ln.address().string(), 2, 1);
    ln.close();  // serve returns; the connection goroutines end at their clients' EOF
    all.wait();
    return 0;
  });
}
