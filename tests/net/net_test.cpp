// net_test: gort::net over the netpoller — echo round trips on tcp4/tcp6/unix, 1,000
// concurrent connections with their contents checked, deadlines (expiry, extension and
// shortening while blocked, write deadline with a full socket buffer, dial timeout), close
// while blocked, peer reset, half close, refused dials, UDP, plain-thread callers, an
// accept loop that survives EMFILE, and the deadlock detector's view of I/O waits.
// Everything on 127.0.0.1 / ::1.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"

using namespace std::chrono_literals;
namespace net = gort::net;

namespace {

// 1,000 connections: 2,000 goroutines, well under the 10k that TSan's fibers allow.
constexpr int kManyConns = 1000;

// Reads exactly n bytes (or fails).
std::string read_n(const net::conn& c, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    auto [k, err] = c.read(std::span<char>(out.data() + got, n - got));
    if (err) {
      ADD_FAILURE() << "read_n: " << err;
      out.resize(got);
      return out;
    }
    got += k;
  }
  return out;
}

// Reads until EOF.
std::pair<std::string, gort::error> read_all(const net::conn& c) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto [n, err] = c.read(buf);
    out.append(buf, n);
    if (err == gort::io::eof) return {out, nullptr};
    if (err) return {out, err};
  }
}

// An echo server on a fresh listener: every connection echoes until EOF.
net::listener start_echo(gort::sync::wait_group& wg, const char* network = "tcp",
                         const char* address = "127.0.0.1:0") {
  auto [ln, err] = net::listen(network, address);
  EXPECT_FALSE(err) << err;
  wg.go([ln = ln, &wg] {
    for (;;) {
      auto [c, aerr] = ln.accept();
      if (aerr) return;
      wg.go([c = c] {
        char buf[8192];
        for (;;) {
          auto [n, rerr] = c.read(buf);
          if (rerr) break;
          if (c.write(std::string_view(buf, n)).second) break;
        }
        c.close();
      });
    }
  });
  return ln;
}

// A listener on 127.0.0.1 and the two ends of one connection to it: c dialled, s accepted.
// Empty handles (and a test failure) when any step fails.
struct tcp_pair {
  net::listener ln;
  net::conn c, s;
};
tcp_pair connect_pair() {
  tcp_pair p;
  auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
  EXPECT_FALSE(err) << err.message();
  if (err) return p;
  auto [c, derr] = net::dial("tcp", ln.address().string());
  EXPECT_FALSE(derr) << derr.message();
  auto [s, aerr] = ln.accept();
  EXPECT_FALSE(aerr) << aerr.message();
  if (derr || aerr) return p;
  p.ln = std::move(ln);
  p.c = std::move(c);
  p.s = std::move(s);
  return p;
}

bool ipv6_loopback() {
  auto [ln, err] = net::listen("tcp6", "[::1]:0");
  if (err) return false;
  ln.close();
  return true;
}

}  // namespace

TEST(Net, EchoRoundTripTcp4) {
  gort::run([] {
    gort::sync::wait_group wg;
    net::listener ln = start_echo(wg);
    EXPECT_EQ(ln.address().network(), "tcp");
    EXPECT_EQ(ln.address().ip(), "127.0.0.1");
    EXPECT_GT(ln.address().port(), 0);
    auto [c, err] = net::dial("tcp", ln.address().string());
    ASSERT_FALSE(err) << err;
    EXPECT_EQ(c.remote_addr().string(), ln.address().string());
    EXPECT_EQ(c.local_addr().ip(), "127.0.0.1");
    for (int i = 0; i < 100; i++) {
      std::string msg = "hello " + std::to_string(i);
      auto [n, werr] = c.write(msg);
      ASSERT_FALSE(werr);
      ASSERT_EQ(n, msg.size());
      ASSERT_EQ(read_n(c, msg.size()), msg);
    }
    EXPECT_FALSE(c.close());
    auto cerr = c.close();
    ASSERT_TRUE(cerr);
    EXPECT_TRUE(gort::errors::is(cerr, net::err_closed));
    EXPECT_EQ(cerr.message().substr(0, 10), "close tcp ");
    ln.close();
    wg.wait();
  });
}

TEST(Net, EchoRoundTripTcp6AndHostName) {
  if (!ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  gort::run([] {
    gort::sync::wait_group wg;
    net::listener ln = start_echo(wg, "tcp6", "[::1]:0");
    EXPECT_EQ(ln.address().ip(), "::1");
    EXPECT_EQ(ln.address().string(), "[::1]:" + std::to_string(ln.address().port()));
    auto [c, err] = net::dial("tcp6", ln.address().string());
    ASSERT_FALSE(err) << err;
    c.write("six");
    EXPECT_EQ(read_n(c, 3), "six");
    c.close();
    ln.close();
    wg.wait();
  });
  gort::run([] {
    gort::sync::wait_group wg;
    net::listener ln = start_echo(wg, "tcp4", "127.0.0.1:0");
    // A host name goes through the resolver (in the blocking-call bracket).
    auto [c, err] = net::dial("tcp4", "localhost:" + std::to_string(ln.address().port()));
    ASSERT_FALSE(err) << err;
    c.write("name");
    EXPECT_EQ(read_n(c, 4), "name");
    c.close();
    ln.close();
    wg.wait();
  });
}

TEST(Net, EchoRoundTripUnix) {
  std::string path = "/tmp/gort_net_test_" + std::to_string(getpid()) + ".sock";
  gort::run([&] {
    gort::sync::wait_group wg;
    net::listener ln = start_echo(wg, "unix", path.c_str());
    EXPECT_EQ(ln.address().string(), path);
    EXPECT_EQ(access(path.c_str(), F_OK), 0);
    auto [c, err] = net::dial("unix", path);
    ASSERT_FALSE(err) << err;
    c.write("over unix");
    EXPECT_EQ(read_n(c, 9), "over unix");
    c.close();
    ln.close();
    wg.wait();
  });
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the listener removes its socket file";
}

TEST(Net, ManyConcurrentConnectionsEchoTheirOwnData) {
  gort::run([] {
    gort::sync::wait_group wg;
    net::listener ln = start_echo(wg);
    std::string address = ln.address().string();
    std::atomic<int> ok{0};
    gort::sync::wait_group clients;
    for (int i = 0; i < kManyConns; i++) {
      clients.go([&, i] {
        auto [c, err] = net::dial("tcp", address);
        if (err) {
          ADD_FAILURE() << err;
          return;
        }
        bool good = true;
        for (int k = 0; k < 20 && good; k++) {
          // Distinct contents per connection and message, of varying length.
          std::string msg(size_t(1 + (i * 31 + k * 7) % 3000), char('a' + (i + k) % 26));
          msg.append("#").append(std::to_string(i)).append("/").append(std::to_string(k));
          if (c.write(msg).second) good = false;
          if (read_n(c, msg.size()) != msg) good = false;
        }
        c.close();
        if (good) ok++;
      });
    }
    clients.wait();
    EXPECT_EQ(ok.load(), kManyConns);
    ln.close();
    wg.wait();
  });
}

TEST(Net, ReadDeadlineTimesOut) {
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    c.set_read_deadline(gort::time::now() + 20ms);
    char buf[16];
    auto [n, rerr] = c.read(buf);
    EXPECT_EQ(n, 0u);
    ASSERT_TRUE(rerr);
    EXPECT_TRUE(rerr.timeout());
    EXPECT_TRUE(gort::errors::is(rerr, gort::os::err_deadline_exceeded));
    EXPECT_EQ(rerr.message(), "read tcp " + c.local_addr().string() + "->" +
                                  c.remote_addr().string() + ": i/o timeout");
    // An expired deadline fails at once, even with data waiting; clearing it reads.
    s.write("x");
    auto [n2, rerr2] = c.read(buf);
    EXPECT_TRUE(rerr2.timeout());
    c.set_read_deadline({});
    auto [n3, rerr3] = c.read(buf);
    EXPECT_FALSE(rerr3);
    EXPECT_EQ(n3, 1u);
    // A deadline on accept.
    ln.set_deadline(gort::time::now() + 10ms);
    auto [none, aerr2] = ln.accept();
    EXPECT_TRUE(aerr2.timeout()) << aerr2;
    c.close();
    s.close();
    ln.close();
  });
}

TEST(Net, DeadlineMovedWhileBlocked) {
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    gort::sync::wait_group wg;
    // Extended: the reader, due to time out at +1s, gets data sent at +1.3s.
    c.set_read_deadline(gort::time::now() + 1s);
    wg.go([c = c, s = s] {
      gort::time::sleep(20ms);
      c.set_read_deadline(gort::time::now() + 30s);
      gort::time::sleep(1280ms);
      s.write("late");
    });
    EXPECT_EQ(read_n(c, 4), "late");
    wg.wait();
    // Shortened: a far deadline moved into the past wakes the reader with a timeout.
    c.set_read_deadline(gort::time::now() + 30s);
    wg.go([c = c] {
      gort::time::sleep(20ms);
      c.set_read_deadline(gort::time::now() - 1s);
    });
    char buf[8];
    auto [n, rerr] = c.read(buf);
    EXPECT_TRUE(rerr.timeout()) << rerr;
    wg.wait();
    c.close();
    s.close();
    ln.close();
  });
}

TEST(Net, WriteDeadlineWithFullSocketBuffer) {
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    // Nobody reads s: the buffers fill and the write blocks until the deadline.
    std::string big(64 << 20, 'z');
    c.set_write_deadline(gort::time::now() + 50ms);
    auto [n, werr] = c.write(big);
    ASSERT_TRUE(werr);
    EXPECT_TRUE(werr.timeout()) << werr;
    EXPECT_GT(n, 0u);
    EXPECT_LT(n, big.size());
    EXPECT_EQ(werr.message().substr(0, 10), "write tcp ");
    c.close();
    s.close();
    ln.close();
  });
}

TEST(Net, DialTimeoutWhenTheBacklogIsFull) {
  // A listener with backlog 0 whose queue is filled: further SYNs are dropped, so a dial
  // can only time out.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  socklen_t len = sizeof sa;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::string address = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  gort::run([&] {
    std::vector<net::conn> fill;
    gort::error last;
    for (int i = 0; i < 64 && !last; i++) {
      auto [c, err] = net::dial_timeout("tcp", address, 100ms);
      if (err) last = err;
      else fill.push_back(c);
    }
    ASSERT_TRUE(last) << "the backlog never filled";
    EXPECT_TRUE(last.timeout()) << last;
    EXPECT_EQ(last.message(), "dial tcp " + address + ": i/o timeout");
    for (auto& c : fill) c.close();
  });
  close(lfd);
}

TEST(Net, CloseWakesBlockedReaderAndAccepter) {
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    auto done = gort::make_chan<gort::error>(2);
    gort::sync::wait_group wg;  // the run ends only after the goroutines (ASan leak check)
    wg.go([c = c, done] {
      char buf[8];
      done.send(c.read(buf).second);
    });
    wg.go([ln = ln, done] { done.send(ln.accept().second); });
    gort::time::sleep(20ms);  // let both block (the result does not depend on it)
    c.close();
    ln.close();
    for (int i = 0; i < 2; i++) {
      gort::error e = done.recv();
      ASSERT_TRUE(e);
      EXPECT_TRUE(gort::errors::is(e, net::err_closed)) << e;
      EXPECT_NE(e.message().find("use of closed network connection"), std::string::npos);
    }
    // Calls after close fail the same way, and the peer sees EOF.
    char buf[8];
    EXPECT_TRUE(gort::errors::is(c.read(buf).second, net::err_closed));
    EXPECT_TRUE(gort::errors::is(c.write("x").second, net::err_closed));
    EXPECT_EQ(s.read(buf).second, gort::io::eof);
    s.close();
    wg.wait();
  });
}

TEST(Net, PeerResetAndHalfClose) {
  gort::run([] {
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    {
      auto [c, derr] = net::dial("tcp", ln.address().string());
      auto [s, aerr] = ln.accept();
      ASSERT_FALSE(derr);
      ASSERT_FALSE(aerr);
      s.set_linger(0);  // close sends RST
      s.close();
      char buf[8];
      auto [n, rerr] = c.read(buf);
      ASSERT_TRUE(rerr);
      EXPECT_TRUE(gort::errors::is(rerr, gort::os::errno_err(ECONNRESET))) << rerr;
      EXPECT_NE(rerr.message().find(": read: connection reset by peer"), std::string::npos) << rerr;
      c.close();
    }
    {
      auto [c, derr] = net::dial("tcp", ln.address().string());
      auto [s, aerr] = ln.accept();
      ASSERT_FALSE(derr);
      ASSERT_FALSE(aerr);
      // The client sends its request and closes its writing side; the server reads to EOF,
      // then answers on the still-open other direction.
      c.write("request");
      EXPECT_FALSE(c.close_write());
      auto [req, e1] = read_all(s);
      EXPECT_FALSE(e1);
      EXPECT_EQ(req, "request");
      s.write("response");
      s.close();
      auto [resp, e2] = read_all(c);
      EXPECT_FALSE(e2);
      EXPECT_EQ(resp, "response");
      c.close();
    }
    ln.close();
  });
}

TEST(Net, DialClosedPortIsRefused) {
  gort::run([] {
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    std::string address = ln.address().string();
    ln.close();
    auto [c, derr] = net::dial("tcp", address);
    ASSERT_TRUE(derr);
    EXPECT_FALSE(c);
    EXPECT_EQ(derr.message(), "dial tcp " + address + ": connect: connection refused");
    EXPECT_TRUE(gort::errors::is(derr, gort::os::errno_err(ECONNREFUSED)));
    auto* op = derr.as<net::op_error>();
    ASSERT_NE(op, nullptr);
    EXPECT_EQ(op->op(), "dial");
    // Bad addresses and networks.
    EXPECT_EQ(net::dial("tcp", "127.0.0.1").second.message(),
              "dial tcp: address 127.0.0.1: missing port in address");
    EXPECT_EQ(net::dial("bogus", "x:1").second.message(), "dial bogus: unknown network bogus");
    // Listening twice on one port.
    auto [l1, e1] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(e1);
    auto [l2, e2] = net::listen("tcp", l1.address().string());
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2.message(), "listen tcp " + l1.address().string() + ": bind: address already in use");
    l1.close();
  });
}

TEST(Net, UdpReadFromWriteTo) {
  gort::run([] {
    auto [a, err] = net::listen_packet("udp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err;
    auto [b, err2] = net::listen_packet("udp4", "127.0.0.1:0");
    ASSERT_FALSE(err2) << err2;
    auto done = gort::make_chan<std::string>(1);
    gort::sync::wait_group wg;
    wg.go([a = a, done] {
      // Echo one datagram back to its sender.
      char buf[1500];
      auto [n, from, rerr] = a.read_from(buf);
      if (rerr) {
        done.send("error: " + rerr.message());
        return;
      }
      a.write_to(std::string_view(buf, n), from);
      done.send(from.string());
    });
    auto [n, werr] = b.write_to("datagram", a.local_addr());
    ASSERT_FALSE(werr);
    EXPECT_EQ(n, 8u);
    char buf[64];
    auto [m, from, rerr] = b.read_from(buf);
    ASSERT_FALSE(rerr) << rerr;
    EXPECT_EQ(std::string(buf, m), "datagram");
    EXPECT_EQ(from.string(), a.local_addr().string());
    EXPECT_EQ(done.recv(), b.local_addr().string());
    // A read deadline on a datagram socket.
    b.set_read_deadline(gort::time::now() + 10ms);
    auto [z, zf, terr] = b.read_from(buf);
    EXPECT_TRUE(terr.timeout());
    // A connected UDP conn from dial.
    auto [c, derr] = net::dial("udp", a.local_addr().string());
    ASSERT_FALSE(derr);
    c.write("via dial");
    auto [k, from2, rerr2] = a.read_from(buf);
    ASSERT_FALSE(rerr2);
    EXPECT_EQ(std::string(buf, k), "via dial");
    EXPECT_EQ(from2.string(), c.local_addr().string());
    c.close();
    a.close();
    b.close();
    wg.wait();
  });
}

TEST(Net, PlainThreadsBlockTheirOwnThread) {
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    std::string got;
    gort::error timeout_err, closed_err;
    std::thread t([&, &c = c] {
      // Data written by a goroutine later.
      got = read_n(c, 5);
      // A deadline, then a close from another thread while blocked.
      c.set_read_deadline(gort::time::now() + 10ms);
      char buf[8];
      timeout_err = c.read(buf).second;
      c.set_read_deadline({});
      closed_err = c.read(buf).second;
    });
    gort::time::sleep(10ms);
    s.write("hello");
    gort::time::sleep(100ms);
    c.close();
    t.join();
    EXPECT_EQ(got, "hello");
    EXPECT_TRUE(timeout_err.timeout()) << timeout_err;
    EXPECT_TRUE(gort::errors::is(closed_err, net::err_closed)) << closed_err;
    s.close();
    ln.close();
  });
}

TEST(Net, SysmonPollsWhenNoPGoesIdle) {
  // One P and two goroutines that only yield: each switch finds the other, so no M ever
  // runs findrunnable's network poll. The reader is woken only by sysmon, which polls
  // when nobody has for 10 ms (Go: sysmon's netpoll). A watchdog thread ends the test
  // (closing the conn) if that never happens.
  std::atomic<bool> read_ok{false}, stop{false}, watchdog_fired{false};
  gort::run([&] {
    int prev = gort::gomaxprocs(1);
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    gort::sync::wait_group wg;
    for (int i = 0; i < 2; i++)
      wg.go([&] {
        while (!stop.load()) gort::yield();
      });
    wg.go([&, c = c] {
      bool got = read_n(c, 2) == "hi";
      read_ok = got && !watchdog_fired.load();  // woken by the poll, not by the watchdog
      stop = true;
    });
    std::thread helper([&, c = c, s = s] {
      std::this_thread::sleep_for(20ms);  // the reader is parked by now
      s.write("hi");
      for (int i = 0; i < 500 && !stop.load(); i++) std::this_thread::sleep_for(10ms);
      if (!stop.load()) {  // never woken: end the spinners (the reader then fails)
        watchdog_fired = true;
        stop = true;
      }
    });
    wg.wait();
    helper.join();
    gort::gomaxprocs(prev);
    c.close();
    s.close();
    ln.close();
  });
  EXPECT_TRUE(read_ok.load()) << "the parked reader was never polled";
}

TEST(Net, OutsideAnyRun) {
  // No scheduler at all: the calls block the calling threads.
  auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
  ASSERT_FALSE(err);
  std::thread srv([ln = ln] {
    auto [s, aerr] = ln.accept();
    if (aerr) return;
    char buf[16];
    auto [n, rerr] = s.read(buf);
    s.write(std::string_view(buf, n));
    s.close();
  });
  auto [c, derr] = net::dial("tcp", ln.address().string());
  ASSERT_FALSE(derr);
  c.write("plain");
  EXPECT_EQ(read_n(c, 5), "plain");
  char buf[4];
  c.set_read_deadline(gort::time::now() + 5s);
  EXPECT_EQ(c.read(buf).second, gort::io::eof);
  srv.join();
  c.close();
  ln.close();
}

TEST(Net, AcceptLoopSurvivesEmfile) {
  gort::run([] {
    auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    {
      // Take the error paths once while descriptors are plentiful: UBSan's vptr check
      // needs a pipe the first time it meets a type, and there will be none to spare below.
      auto [l2, e2] = net::listen("tcp", "127.0.0.1:0");
      std::string gone = l2.address().string();
      l2.close();
      auto [x, refused] = net::dial("tcp", gone);
      EXPECT_TRUE(refused.temporary() || !refused.temporary());
      ln.set_deadline(gort::time::now() - 1s);
      auto [y, late] = ln.accept();
      EXPECT_TRUE(late.timeout());
      ln.set_deadline({});
    }
    rlimit old{};
    getrlimit(RLIMIT_NOFILE, &old);
    // Use up the descriptors, keeping one for the client's dial.
    rlimit low = old;
    low.rlim_cur = 256;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    std::vector<int> hog;
    for (;;) {
      int d = dup(0);
      if (d < 0) break;
      hog.push_back(d);
    }
    ASSERT_FALSE(hog.empty());
    close(hog.back());
    hog.pop_back();
    auto [c, derr] = net::dial("tcp", ln.address().string());
    ASSERT_FALSE(derr) << derr;
    // accept: EMFILE, a temporary error.
    auto [none, aerr] = ln.accept();
    ASSERT_TRUE(aerr);
    EXPECT_TRUE(aerr.temporary()) << aerr;
    EXPECT_TRUE(gort::errors::is(aerr, gort::os::errno_err(EMFILE))) << aerr;
    EXPECT_NE(aerr.message().find("accept: too many open files"), std::string::npos) << aerr;
    // The accept loop backs off, descriptors are freed, and the same connection is accepted.
    auto accepted = gort::make_chan<bool>(1);
    gort::sync::wait_group wg;
    wg.go([ln = ln, accepted] {
      auto delay = 5ms;
      for (;;) {
        auto [s, e] = ln.accept();
        if (!e) {
          s.write("ok");
          s.close();
          accepted.send(true);
          return;
        }
        if (!e.temporary()) {
          accepted.send(false);
          return;
        }
        gort::time::sleep(delay);
        if (delay < 1s) delay *= 2;
      }
    });
    gort::time::sleep(20ms);
    for (int d : hog) close(d);
    setrlimit(RLIMIT_NOFILE, &old);
    EXPECT_TRUE(accepted.recv());
    EXPECT_EQ(read_n(c, 2), "ok");
    c.close();
    ln.close();
    wg.wait();
  });
}

TEST(NetDeathTest, IoWaitIsNotADeadlock) {
  // The only goroutine waits in accept; the peer is a thread that existed before the run
  // (so checkdead does not count it as a possible waker). The run must finish normally.
  EXPECT_EXIT(
      {
        std::atomic<int> port{0};
        std::thread peer([&] {
          while (port.load() == 0) std::this_thread::sleep_for(1ms);
          std::this_thread::sleep_for(100ms);
          int s = socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in sa{};
          sa.sin_family = AF_INET;
          sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          sa.sin_port = htons(uint16_t(port.load()));
          if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) (void)!write(s, "hi", 2);
          close(s);
        });
        int code = gort::run([&] {
          auto [ln, err] = net::listen("tcp", "127.0.0.1:0");
          if (err) return 3;
          port.store(ln.address().port());
          auto [c, aerr] = ln.accept();
          if (aerr) return 4;
          char buf[2];
          auto [n, rerr] = c.read(buf);
          return rerr || n != 2 ? 5 : 0;
        });
        peer.join();
        std::exit(code);
      },
      testing::ExitedWithCode(0), "");
}

TEST(OsFile, WriteReadCloseAndErrors) {
  std::string path = "/tmp/gort_os_test_" + std::to_string(getpid()) + ".txt";
  gort::run([&] {
    auto [f, err] = gort::os::create(path);
    ASSERT_FALSE(err) << err;
    auto [n, werr] = f.write("hello, file\n");
    EXPECT_FALSE(werr);
    EXPECT_EQ(n, 12u);
    EXPECT_FALSE(f.close());
    auto cerr = f.close();
    EXPECT_EQ(cerr.message(), "close " + path + ": file already closed");
    EXPECT_TRUE(gort::errors::is(cerr, gort::os::err_closed));

    auto [g, oerr] = gort::os::open(path);
    ASSERT_FALSE(oerr);
    char buf[5];
    std::string all;
    for (;;) {
      auto [k, rerr] = g.read(buf);
      all.append(buf, k);
      if (rerr == gort::io::eof) break;
      ASSERT_FALSE(rerr) << rerr;
    }
    EXPECT_EQ(all, "hello, file\n");
    char at[4];
    auto [k2, aerr] = g.read_at(at, 7);
    EXPECT_FALSE(aerr);
    EXPECT_EQ(std::string(at, k2), "file");
    g.close();
    EXPECT_EQ(gort::os::read_file(path).first, "hello, file\n");
    EXPECT_FALSE(gort::os::remove(path));

    auto [h, nerr] = gort::os::open("/nonexistent/gort/x");
    ASSERT_TRUE(nerr);
    EXPECT_EQ(nerr.message(), "open /nonexistent/gort/x: no such file or directory");
    EXPECT_TRUE(gort::errors::is(nerr, gort::os::err_not_exist));
    EXPECT_TRUE(gort::errors::is(nerr, gort::os::errno_err(ENOENT)));
    EXPECT_FALSE(gort::errors::is(nerr, gort::os::err_exist));
  });
}

TEST(Net, ReaderThatDrainedTheSocketWaitsForTheNextEdge) {
  // After a short read (the receive queue emptied) the next read waits for readiness
  // without trying the syscall first; data, deadlines and close must all still reach it.
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    char buf[256];
    for (int i = 0; i < 50; i++) {
      std::string msg = "turn " + std::to_string(i);
      gort::sync::wait_group wg;
      wg.go([s = s, msg] {
        if (msg.size() % 2) gort::time::sleep(100us);  // sometimes after the reader parks
        s.write(msg);
      });
      auto [n, rerr] = c.read(buf);  // n < sizeof buf: drained
      ASSERT_FALSE(rerr) << rerr;
      std::string got(buf, n);
      while (got.size() < msg.size()) {
        auto [k, e2] = c.read(buf);
        ASSERT_FALSE(e2);
        got.append(buf, k);
      }
      EXPECT_EQ(got, msg);
      wg.wait();
    }
    s.write("data already queued");
    gort::time::sleep(5ms);
    auto [n1, e1] = c.read(buf);
    EXPECT_EQ(std::string(buf, n1), "data already queued");
    c.set_read_deadline(gort::time::now() + 10ms);
    EXPECT_TRUE(c.read(buf).second.timeout());
    c.set_read_deadline({});
    s.write("x");
    auto [n2, e2] = c.read(buf);
    EXPECT_EQ(std::string(buf, n2), "x");
    gort::sync::wait_group wg;
    wg.go([c = c] {
      gort::time::sleep(10ms);
      c.close();
    });
    EXPECT_TRUE(gort::errors::is(c.read(buf).second, net::err_closed));
    wg.wait();
    s.close();
    // Data and FIN in one go: the short read that takes the data leaves EOF pending, and
    // no further edge will come for it. The next read must still see EOF.
    for (int i = 0; i < 20; i++) {
      auto [c2, e1] = net::dial("tcp", ln.address().string());
      auto [s2, e2] = ln.accept();
      ASSERT_FALSE(e1);
      ASSERT_FALSE(e2);
      wg.go([s2 = s2, i] {
        if (i % 2) gort::time::sleep(200us);
        s2.write("last words");
        s2.close();
      });
      if (i % 4 >= 2) gort::time::sleep(200us);
      std::string all;
      gort::error end;
      for (;;) {
        auto [n, e] = c2.read(buf);
        all.append(buf, n);
        if (e) {
          end = e;
          break;
        }
      }
      EXPECT_EQ(end, gort::io::eof);
      EXPECT_EQ(all, "last words");
      c2.close();
      wg.wait();
    }
    ln.close();
  });
}

TEST(Net, ReadsOfAnySizeReturnEveryByteInOrder) {
  // A TCP read asks the kernel for one byte more than the caller's buffer, to learn
  // whether it emptied the socket; the extra byte waits for the next read. Whatever the
  // read sizes, the stream arrives whole and in order, and an exact-size read that
  // emptied the socket still sees data, EOF and deadlines that come later.
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    std::string sent(20000, '\0');
    for (size_t i = 0; i < sent.size(); i++) sent[i] = char('a' + (i * 7 + i / 13) % 26);
    gort::sync::wait_group wg;
    wg.go([s = s, &sent] { EXPECT_FALSE(s.write(sent).second); });
    std::string got;
    const size_t sizes[] = {1, 7, 100, 1, 512, 3, 4096};
    for (size_t k = 0; got.size() < sent.size(); k++) {
      char buf[4096];
      size_t want = std::min(sizes[k % std::size(sizes)], sent.size() - got.size());
      auto [n, err] = c.read(std::span<char>(buf, want));
      ASSERT_FALSE(err) << err;
      ASSERT_GE(n, 1u);
      ASSERT_LE(n, want);
      got.append(buf, n);
    }
    EXPECT_EQ(got, sent);
    wg.wait();
    // Exact-size reads: each empties the socket, the next waits for the next write.
    char buf[512];
    for (int i = 0; i < 20; i++) {
      std::string msg(512, char('A' + i));
      wg.go([s = s, msg, i] {
        if (i % 2) gort::time::sleep(100us);
        s.write(msg);
      });
      EXPECT_EQ(read_n(c, 512), msg);
      wg.wait();
    }
    c.set_read_deadline(gort::time::now() + 10ms);
    EXPECT_TRUE(c.read(buf).second.timeout());
    c.set_read_deadline({});
    s.write(std::string(512, 'z'));
    s.close();  // data and FIN: the exact read takes the data, the next sees EOF
    EXPECT_EQ(read_n(c, 512), std::string(512, 'z'));
    auto [n, err] = c.read(buf);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(err, gort::io::eof);
    c.close();
    ln.close();
  });
}

TEST(Net, DataBeforeAResetIsReadThenTheReset) {
  // The peer writes and then resets the connection: reads in small pieces return every
  // byte, then "connection reset by peer" (the error met while reading ahead is kept).
  gort::run([] {
    for (int round = 0; round < 10; round++) {
      auto [ln, c, s] = connect_pair();
      ASSERT_TRUE(c && s);
      s.write(std::string(301, 'r'));  // the last byte is read ahead, with the reset
      s.set_linger(0);
      s.close();
      gort::time::sleep(2ms);  // the RST is there before the first read
      std::string got;
      gort::error end;
      for (;;) {
        char buf[100];
        auto [n, err] = c.read(buf);
        got.append(buf, n);
        if (err) {
          end = err;
          break;
        }
      }
      EXPECT_EQ(got, std::string(301, 'r'));
      EXPECT_TRUE(gort::errors::is(end, gort::os::errno_err(ECONNRESET))) << end;
      c.close();
      ln.close();
    }
  });
}

TEST(Net, ConcurrentReadersAndWritersShareOneConn) {
  // Go serialises reads (and writes) on one descriptor; several goroutines may call them.
  gort::run([] {
    auto [ln, c, s] = connect_pair();
    ASSERT_TRUE(c && s);
    constexpr int kWriters = 4, kPerWriter = 500;
    std::atomic<int> got{0};
    gort::sync::wait_group readers, writers;
    for (int r = 0; r < 3; r++) {
      readers.go([c = c, &got] {
        char buf[7];
        for (;;) {
          auto [n, e] = c.read(buf);
          got += int(n);
          if (e) return;  // EOF once the writers are done
        }
      });
    }
    for (int w = 0; w < kWriters; w++) {
      writers.go([s = s] {
        for (int i = 0; i < kPerWriter; i++) s.write("0123456789");
      });
    }
    writers.wait();
    s.close_write();
    readers.wait();
    EXPECT_EQ(got.load(), kWriters * kPerWriter * 10);
    c.close();
    s.close();
    ln.close();
  });
}

TEST(Net, LaterEventsDoNotWakeGoroutinesOfAFinishedRun) {
  // A run that ends while a goroutine waits in read leaves it behind; an event on that
  // descriptor during a later run must not make it runnable again.
  net::listener ln;
  net::conn s;
  // The abandoned goroutine keeps this conn in use (and its read lock held) for ever, so it
  // is never closed; a global keeps it reachable for the leak checker.
  static auto* keep = new std::vector<net::conn*>;  // never destroyed: LSan runs after exit
  net::conn* abandoned = new net::conn();
  keep->push_back(abandoned);
  gort::run([&] {
    auto [l, err] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err);
    ln = l;
    *abandoned = net::dial("tcp", ln.address().string()).first;
    s = ln.accept().first;
    ASSERT_TRUE(*abandoned);
    ASSERT_TRUE(s);
    gort::go([abandoned] {
      char buf[8];
      abandoned->read(buf);
      std::abort();  // never: the run ends first, and the data comes in the next one
    });
    gort::time::sleep(20ms);
  });
  int code = gort::run([&] {
    s.write("wake?");
    gort::time::sleep(50ms);  // the poller sees the abandoned conn readable
    return 7;
  });
  EXPECT_EQ(code, 7);
  s.close();
  ln.close();
}

namespace {

// A listener whose accept queue is full, so that further connects hang (SYNs dropped):
// the raw socket (backlog 0) plus the connections that filled it.
struct full_backlog {
  int lfd = -1;
  std::string address;
  std::vector<net::conn> fill;
  full_backlog() {
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    listen(lfd, 0);
    socklen_t len = sizeof sa;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
    address = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  }
  // Inside a run: dials until one times out. False if the queue never filled.
  bool fill_up() {
    for (int i = 0; i < 64; i++) {
      auto [c, err] = net::dial_timeout("tcp", address, 100ms);
      if (err) return err.timeout();
      fill.push_back(c);
    }
    return false;
  }
  ~full_backlog() {
    for (auto& c : fill) c.close();
    close(lfd);
  }
};

}  // namespace

TEST(Net, DialContextCancelAndDeadline) {
  gort::run([] {
    full_backlog fb;
    ASSERT_TRUE(fb.fill_up());
    namespace ctxns = gort::context;
    {
      // Cancelled while connecting.
      auto [ctx, cancel] = ctxns::with_cancel(ctxns::background());
      gort::sync::wait_group wg;
      wg.go([cancel = cancel] {
        gort::time::sleep(20ms);
        cancel();
      });
      auto [c, err] = net::dial_context(ctx, "tcp", fb.address);
      ASSERT_TRUE(err);
      EXPECT_FALSE(c);
      // (With the address unless the cancellation came before the dial began.)
      EXPECT_TRUE(err.message() == "dial tcp " + fb.address + ": operation was canceled" ||
                  err.message() == "dial tcp: operation was canceled")
          << err;
      EXPECT_TRUE(gort::errors::is(err, ctxns::canceled));
      EXPECT_FALSE(err.timeout());
      wg.wait();
    }
    {
      // The context's deadline bounds the connect.
      auto [ctx, cancel] = ctxns::with_timeout(ctxns::background(), 30ms);
      auto [c, err] = net::dial_context(ctx, "tcp", fb.address);
      ASSERT_TRUE(err);
      EXPECT_TRUE(err.message() == "dial tcp " + fb.address + ": i/o timeout" ||
                  err.message() == "dial tcp: i/o timeout")
          << err;
      EXPECT_TRUE(err.timeout());
      EXPECT_TRUE(gort::errors::is(err, ctxns::deadline_exceeded));
      cancel();
    }
    {
      // Already cancelled: fails before dialing.
      auto [ctx, cancel] = ctxns::with_cancel(ctxns::background());
      cancel();
      auto [c, err] = net::dial_context(ctx, "tcp", "127.0.0.1:1");
      EXPECT_EQ(err.message(), "dial tcp: operation was canceled");
    }
    {
      // Connected: cancelling afterwards does not touch the connection.
      auto [ln, lerr] = net::listen("tcp", "127.0.0.1:0");
      ASSERT_FALSE(lerr);
      auto [ctx, cancel] = ctxns::with_cancel(ctxns::background());
      auto [c, err] = net::dial_context(ctx, "tcp", ln.address().string());
      ASSERT_FALSE(err) << err;
      auto [s, aerr] = ln.accept();
      ASSERT_FALSE(aerr);
      cancel();
      gort::time::sleep(5ms);
      EXPECT_FALSE(c.write("still here").second);
      EXPECT_EQ(read_n(s, 10), "still here");
      c.close();
      s.close();
      ln.close();
    }
  });
}
