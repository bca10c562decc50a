// gort/net.hpp — blocking-style network I/O on the runtime's netpoller (Go: package net).
//
//   auto [ln, err] = gort::net::listen("tcp", "127.0.0.1:8080");
//   if (err) { std::printf("%s\n", err.message().c_str()); return 1; }
//   for (;;) {
//     auto [c, aerr] = ln.accept();
//     if (aerr) break;
//     gort::go([c] {                              // a goroutine per connection
//       char buf[4096];
//       for (;;) {
//         auto [n, rerr] = c.read(buf);           // parks the goroutine, not the thread
//         if (rerr) break;                        // io::eof when the peer closed
//         if (c.write(std::string_view(buf, n)).second) break;
//       }
//       c.close();
//     });
//   }
//
// Every call returns (value, error) as a std::pair (or a tuple for read_from), to be taken
// apart with structured bindings. Errors are Go's: an op_error such as
//   "dial tcp 127.0.0.1:1: connect: connection refused"
//   "read tcp 127.0.0.1:8080->127.0.0.1:41000: i/o timeout"       (err.timeout() is true)
//   "read tcp ...: use of closed network connection"  (errors::is(err, net::err_closed))
// and the bare io::eof at the end of a stream.
//
// Descriptors are non-blocking and registered once, edge-triggered, with the runtime's
// epoll poller. A goroutine that would block parks until the poller, a deadline or a close
// wakes it; a plain thread (not a goroutine) blocks its own thread instead. Handles (conn,
// listener, packet_conn) are cheap shared references: the socket is closed by close() or
// when the last handle goes; its number is not reused while any call on it is in progress.
//
// Deadlines are points on the runtime's monotonic clock (gort::time::now()); a default-
// constructed time_point means no deadline. They may be moved while a call waits.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "gort/context.hpp"
#include "gort/error.hpp"
#include "gort/io.hpp"
#include "gort/os.hpp"
#include "gort/time.hpp"

namespace gort::net {

using time_point = std::chrono::steady_clock::time_point;

// Go: net.ErrClosed — "use of closed network connection".
extern const error err_closed;

// A network address (Go: net.Addr, *TCPAddr, *UDPAddr, *UnixAddr): an IP and port for
// tcp/udp, a path for unix. Default-constructed: nil.
class addr {
 public:
  addr() = default;
  // "tcp", "udp", "unix" (Go: Addr.Network()).
  const std::string& network() const { return network_; }
  // "127.0.0.1:8080", "[::1]:8080", "/tmp/sock" (Go: Addr.String()); "<nil>" for nil.
  std::string string() const;
  std::string ip() const;  // "127.0.0.1" (empty for unix)
  int port() const;        // 0 for unix
  explicit operator bool() const { return len_ != 0; }

  // The raw socket address (for the runtime's own use).
  const void* sockaddr_ptr() const { return storage_; }
  unsigned sockaddr_len() const { return len_; }
  static addr from_sockaddr(std::string network, const void* sa, unsigned len);

 private:
  std::string network_;
  alignas(8) unsigned char storage_[128] = {};
  unsigned len_ = 0;
};

// Go: net.OpError — "<op> <net> [<source>->]<addr>: <err>".
class op_error final : public error_value {
 public:
  op_error(std::string op, std::string net, addr source, addr address, error err)
      : op_(std::move(op)), net_(std::move(net)), source_(std::move(source)),
        addr_(std::move(address)), err_(std::move(err)) {}
  const std::string& op() const { return op_; }
  const std::string& net() const { return net_; }
  const addr& source() const { return source_; }
  const addr& address() const { return addr_; }
  const error& err() const { return err_; }
  std::string message() const override;
  bool timeout() const override { return err_.timeout(); }
  bool temporary() const override { return err_.temporary(); }
  error unwrap() const override { return err_; }

 private:
  std::string op_, net_;
  addr source_, addr_;
  error err_;
};

// Go: net.DNSError — "lookup <name>: <err>" ("no such host" when not found).
class dns_error final : public error_value {
 public:
  dns_error(std::string err, std::string name, bool not_found)
      : err_(std::move(err)), name_(std::move(name)), not_found_(not_found) {}
  std::string message() const override { return "lookup " + name_ + ": " + err_; }
  bool is_not_found() const { return not_found_; }

 private:
  std::string err_, name_;
  bool not_found_;
};

// Go: net.AddrError / UnknownNetworkError — "address <addr>: <err>", "unknown network <n>".
class addr_error final : public error_value {
 public:
  addr_error(std::string err, std::string address) : err_(std::move(err)), addr_(std::move(address)) {}
  std::string message() const override {
    return addr_.empty() ? err_ : "address " + addr_ + ": " + err_;
  }

 private:
  std::string err_, addr_;
};

namespace detail {
struct netfd;
}

// A stream (tcp, unix) or connected datagram (udp) connection (Go: net.Conn, *TCPConn).
class conn {
 public:
  conn() = default;  // nil: every call returns an "invalid argument" error
  // Go: Read — reads what is available, up to buf.size() bytes, waiting until at least one
  // byte is. (0, io::eof) once the peer closed its side.
  std::pair<size_t, error> read(std::span<char> buf) const;
  // Go: Write — writes all of data, waiting as needed, or returns how much was written and
  // the error that stopped it.
  std::pair<size_t, error> write(std::string_view data) const;
  // Go: Close — wakes blocked calls with err_closed; a second close returns err_closed.
  error close() const;
  // Go: (*TCPConn).CloseRead / CloseWrite — shutdown(2) of one direction (half close).
  error close_read() const;
  error close_write() const;
  // Go: SetDeadline / SetReadDeadline / SetWriteDeadline.
  error set_deadline(time_point t) const;
  error set_read_deadline(time_point t) const;
  error set_write_deadline(time_point t) const;
  // Go: (*TCPConn).SetNoDelay (on by default, as in Go), SetKeepAlive.
  error set_no_delay(bool on) const;
  error set_keep_alive(bool on) const;
  // Go: (*TCPConn).SetLinger — sec < 0: the default; 0: close resets the connection.
  error set_linger(int sec) const;
  addr local_addr() const;
  addr remote_addr() const;
  explicit operator bool() const { return fd_ != nullptr; }

 private:
  friend class listener;
  friend struct conn_access;
  explicit conn(std::shared_ptr<detail::netfd> fd) : fd_(std::move(fd)) {}
  std::shared_ptr<detail::netfd> fd_;
};

// A stream listener (Go: net.Listener, *TCPListener, *UnixListener).
class listener {
 public:
  listener() = default;
  // Go: Accept — waits for the next connection. EMFILE/ENFILE come back as errors whose
  // temporary() is true: back off and call again (as Go's net/http does).
  std::pair<conn, error> accept() const;
  // Go: Close — wakes a blocked accept with err_closed; a unix listener removes its file.
  error close() const;
  // Go: (*TCPListener).SetDeadline — a deadline for accept.
  error set_deadline(time_point t) const;
  addr address() const;  // Go: Addr()
  explicit operator bool() const { return fd_ != nullptr; }

 private:
  friend std::pair<listener, error> listen(std::string_view, std::string_view);
  explicit listener(std::shared_ptr<detail::netfd> fd) : fd_(std::move(fd)) {}
  std::shared_ptr<detail::netfd> fd_;
};

// A datagram endpoint (Go: net.PacketConn, *UDPConn).
class packet_conn {
 public:
  packet_conn() = default;
  // Go: ReadFrom — one datagram (truncated to buf.size()), its length and its sender.
  std::tuple<size_t, addr, error> read_from(std::span<char> buf) const;
  // Go: WriteTo — sends data as one datagram to to.
  std::pair<size_t, error> write_to(std::string_view data, const addr& to) const;
  error close() const;
  error set_deadline(time_point t) const;
  error set_read_deadline(time_point t) const;
  error set_write_deadline(time_point t) const;
  addr local_addr() const;
  explicit operator bool() const { return fd_ != nullptr; }

 private:
  friend std::pair<packet_conn, error> listen_packet(std::string_view, std::string_view);
  explicit packet_conn(std::shared_ptr<detail::netfd> fd) : fd_(std::move(fd)) {}
  std::shared_ptr<detail::netfd> fd_;
};

// Go: net.Listen — network "tcp", "tcp4", "tcp6" or "unix"; address "host:port" (an empty
// host listens on every address; port 0 picks a free port) or a unix socket path.
// SO_REUSEADDR is set on TCP listeners, as Go does.
std::pair<listener, error> listen(std::string_view network, std::string_view address);
// Go: net.Dial — "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix". Host names are
// resolved in the blocking-call bracket; the addresses are tried in order. TCP_NODELAY is
// set on every TCP connection, as Go does.
std::pair<conn, error> dial(std::string_view network, std::string_view address);
// Go: net.DialTimeout — as dial, failing with an i/o timeout error once d has passed.
std::pair<conn, error> dial_timeout(std::string_view network, std::string_view address,
                                    time::duration d);
// Go: net.Dialer.DialContext — as dial, bounded by ctx: its deadline bounds the connect,
// and cancelling ctx interrupts it. The error then says "operation was canceled"
// (errors::is(err, context::canceled)) or "i/o timeout" (errors::is(err,
// context::deadline_exceeded), timeout() true). Once connected, ctx no longer matters.
std::pair<conn, error> dial_context(const context::context& ctx, std::string_view network,
                                    std::string_view address);
// Go: net.ListenPacket — "udp", "udp4", "udp6".
std::pair<packet_conn, error> listen_packet(std::string_view network, std::string_view address);

// Go: net.ResolveTCPAddr / ResolveUDPAddr — the first address for "host:port".
std::pair<addr, error> resolve_tcp_addr(std::string_view network, std::string_view address);
std::pair<addr, error> resolve_udp_addr(std::string_view network, std::string_view address);
// Go: net.LookupHost — the host's addresses as strings (in the blocking-call bracket).
std::pair<std::vector<std::string>, error> lookup_host(std::string_view host);

// Go: net.SplitHostPort / JoinHostPort.
struct host_port {
  std::string host, port;
};
std::pair<host_port, error> split_host_port(std::string_view hostport);
std::string join_host_port(std::string_view host, std::string_view port);

}  // namespace gort::net
