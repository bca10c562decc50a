// net: gort::net's public API over the fd layer (Go: net/dial.go, tcpsock*.go,
// udpsock*.go, unixsock*.go, ipsock.go, sock_posix.go). Addresses are parsed here; names
// that are not IP literals are resolved with getaddrinfo in the blocking-call bracket.
// Socket options follow Go: SO_REUSEADDR on stream listeners, TCP_NODELAY on every TCP
// connection, SO_BROADCAST on UDP sockets, IPV6_V6ONLY off except for tcp6/udp6, and the
// listen backlog from /proc/sys/net/core/somaxconn.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <tuple>

#include "gort/runtime.hpp"
#include "net/fd.hpp"
#include "os/clock.hpp"
#include "os/lock.hpp"

namespace gort::net {
namespace {

using detail::netfd;

struct net_kind {
  int family = AF_UNSPEC;  // AF_INET/AF_INET6 for *4/*6, AF_UNIX, AF_UNSPEC for tcp/udp
  int sotype = 0;
  std::string base;  // "tcp", "udp", "unix"
  bool ok = false;
};

net_kind parse_network(std::string_view n) {
  net_kind k;
  k.ok = true;
  if (n == "tcp" || n == "tcp4" || n == "tcp6") {
    k.sotype = SOCK_STREAM;
    k.base = "tcp";
  } else if (n == "udp" || n == "udp4" || n == "udp6") {
    k.sotype = SOCK_DGRAM;
    k.base = "udp";
  } else if (n == "unix") {
    k.sotype = SOCK_STREAM;
    k.base = "unix";
    k.family = AF_UNIX;
    return k;
  } else {
    k.ok = false;
    return k;
  }
  if (n.back() == '4') k.family = AF_INET;
  if (n.back() == '6') k.family = AF_INET6;
  return k;
}

error unknown_network(std::string_view n) {
  return error(std::make_shared<const addr_error>("unknown network " + std::string(n), ""));
}

error map_code(int code, const char* syscall) {
  switch (code) {
    case 0: return nullptr;
    case detail::kErrClosed: return err_closed;
    case detail::kErrTimeout: return os::err_deadline_exceeded;
    case detail::kErrEOF: return io::eof;
    default: return os::new_syscall_error(syscall, code);
  }
}

error op_err(const char* op, const std::string& net, const addr& src, const addr& dst, error e) {
  if (!e) return nullptr;
  return error(std::make_shared<const op_error>(op, net, src, dst, std::move(e)));
}

addr make_ip_addr(const std::string& net, int family, const void* ip, int port) {
  if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(uint16_t(port));
    memcpy(&sa.sin_addr, ip, 4);
    return addr::from_sockaddr(net, &sa, sizeof sa);
  }
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(uint16_t(port));
  memcpy(&sa.sin6_addr, ip, 16);
  return addr::from_sockaddr(net, &sa, sizeof sa);
}

bool ipv6_available() {
  static const bool ok = [] {
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    bool r = bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(s);
    return r;
  }();
  return ok;
}

// Go: internetAddrList — the candidate addresses for "host:port".
std::pair<std::vector<addr>, error> resolve(const net_kind& k, std::string_view network,
                                            std::string_view address, bool listening) {
  std::vector<addr> out;
  auto [hp, err] = split_host_port(address);
  if (err) return {out, err};
  int port = 0;
  if (!hp.port.empty()) {
    auto [p, ec] = std::from_chars(hp.port.data(), hp.port.data() + hp.port.size(), port);
    if (ec != std::errc() || p != hp.port.data() + hp.port.size() || port < 0 || port > 65535) {
      // Service names ("http") through the resolver's services database.
      servent se, *res = nullptr;
      char buf[1024];
      std::string proto = k.base;
      const std::string& service = hp.port;  // a structured binding cannot be captured before C++20 in Clang 14
      gort::blocking([&] { getservbyname_r(service.c_str(), proto.c_str(), &se, buf, sizeof buf, &res); });
      if (res == nullptr)
        return {out, error(std::make_shared<const dns_error>("unknown port", k.base + "/" + hp.port, false))};
      port = ntohs(uint16_t(res->s_port));
    }
  }
  std::string net(k.base);
  if (hp.host.empty()) {
    if (listening) {
      if (k.family == AF_INET || (k.family == AF_UNSPEC && !ipv6_available())) {
        in_addr any{};
        out.push_back(make_ip_addr(net, AF_INET, &any, port));
      } else {
        out.push_back(make_ip_addr(net, AF_INET6, &in6addr_any, port));
      }
    } else {
      if (k.family == AF_INET6) {
        out.push_back(make_ip_addr(net, AF_INET6, &in6addr_loopback, port));
      } else {
        in_addr lo{htonl(INADDR_LOOPBACK)};
        out.push_back(make_ip_addr(net, AF_INET, &lo, port));
      }
    }
    return {out, nullptr};
  }
  std::string host = hp.host;
  if (auto pct = host.find('%'); pct != std::string::npos) host.resize(pct);  // zones: ignored
  unsigned char ip[16];
  int fam = 0;
  if (inet_pton(AF_INET, host.c_str(), ip) == 1)
    fam = AF_INET;
  else if (inet_pton(AF_INET6, host.c_str(), ip) == 1)
    fam = AF_INET6;
  if (fam != 0) {
    if (k.family != AF_UNSPEC && k.family != fam) {
      // An IPv4-mapped literal is fine for tcp6; anything else is not.
      return {out, error(std::make_shared<const addr_error>("no suitable address found", host))};
    }
    out.push_back(make_ip_addr(net, fam, ip, port));
    return {out, nullptr};
  }
  // A host name: getaddrinfo may block (files, DNS), so it runs in the bracket.
  addrinfo hints{};
  hints.ai_family = k.family;
  hints.ai_socktype = k.sotype;
  addrinfo* res = nullptr;
  int rc = gort::blocking([&] { return getaddrinfo(host.c_str(), nullptr, &hints, &res); });
  if (rc != 0) {
    bool nf = rc == EAI_NONAME || rc == EAI_NODATA;
    return {out, error(std::make_shared<const dns_error>(nf ? "no such host" : gai_strerror(rc), host, nf))};
  }
  std::vector<addr> v4, v6;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      auto* sa = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
      v4.push_back(make_ip_addr(net, AF_INET, &sa->sin_addr, port));
    } else if (ai->ai_family == AF_INET6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      v6.push_back(make_ip_addr(net, AF_INET6, &sa->sin6_addr, port));
    }
  }
  freeaddrinfo(res);
  // Go's dialer tries IPv4 first for "tcp" (Happy Eyeballs primaries); we try them in order.
  for (auto& a : v4) out.push_back(std::move(a));
  for (auto& a : v6) out.push_back(std::move(a));
  (void)network;
  if (out.empty()) return {out, error(std::make_shared<const dns_error>("no such host", host, true))};
  return {out, nullptr};
}

addr unix_addr(std::string_view path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  size_t n = std::min(path.size(), sizeof sa.sun_path - 1);
  memcpy(sa.sun_path, path.data(), n);
  return addr::from_sockaddr("unix", &sa, socklen_t(offsetof(sockaddr_un, sun_path) + n + 1));
}

int listen_backlog() {
  static const int backlog = [] {
    int n = SOMAXCONN;
    if (FILE* f = fopen("/proc/sys/net/core/somaxconn", "re")) {
      int v;
      if (fscanf(f, "%d", &v) == 1 && v > 0) n = v > 65535 ? 65535 : v;
      fclose(f);
    }
    return n;
  }();
  return backlog;
}

addr sock_name(int fd, const std::string& net, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return {};
  return addr::from_sockaddr(net, &ss, len);
}

// Go: sysSocket + setDefaultSockopts. Returns the fd or -errno.
int new_socket(int family, int sotype, bool ipv6only) {
  int s = ::socket(family, sotype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int one = 1, zero = 0;
  if (family == AF_INET6) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, ipv6only ? &one : &zero, sizeof one);
  if (sotype == SOCK_DGRAM && family != AF_UNIX) setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  return s;
}

int64_t to_nanotime(time_point t) {
  if (t == time_point{}) return 0;
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns <= 0 ? -1 : ns;  // a point at or before the clock's origin has passed
}

error invalid() { return os::new_syscall_error("", EINVAL).unwrap(); }

}  // namespace

// ---- addr ----

addr addr::from_sockaddr(std::string network, const void* sa, unsigned len) {
  addr a;
  a.network_ = std::move(network);
  a.len_ = std::min<unsigned>(len, sizeof a.storage_);
  memcpy(a.storage_, sa, a.len_);
  return a;
}

std::string addr::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  auto* sa = reinterpret_cast<const sockaddr*>(storage_);
  if (len_ == 0) return "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr, buf, sizeof buf);
  return buf;
}

int addr::port() const {
  auto* sa = reinterpret_cast<const sockaddr*>(storage_);
  if (len_ == 0) return 0;
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
  return 0;
}

std::string addr::string() const {
  if (len_ == 0) return "<nil>";
  auto* sa = reinterpret_cast<const sockaddr*>(storage_);
  if (sa->sa_family == AF_UNIX) {
    auto* un = reinterpret_cast<const sockaddr_un*>(storage_);
    size_t max = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
    return std::string(un->sun_path, strnlen(un->sun_path, max));
  }
  return join_host_port(ip(), std::to_string(port()));
}

// ---- host:port ----

std::pair<host_port, error> split_host_port(std::string_view hp) {
  auto fail = [&](const char* why) {
    return std::pair<host_port, error>{{}, error(std::make_shared<const addr_error>(why, std::string(hp)))};
  };
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) return fail("missing port in address");
  std::string_view host;
  if (!hp.empty() && hp[0] == '[') {
    size_t end = hp.find(']');
    if (end == std::string_view::npos) return fail("missing ']' in address");
    if (end + 1 == hp.size()) return fail("missing port in address");
    if (end + 1 != colon) return fail("too many colons in address");
    host = hp.substr(1, end - 1);
  } else {
    host = hp.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("too many colons in address");
  }
  return {{std::string(host), std::string(hp.substr(colon + 1))}, nullptr};
}

std::string join_host_port(std::string_view host, std::string_view port) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]:" + std::string(port);
  return std::string(host) + ":" + std::string(port);
}

std::pair<addr, error> resolve_tcp_addr(std::string_view network, std::string_view address) {
  net_kind k = parse_network(network);
  if (!k.ok || k.base != "tcp") return {addr(), unknown_network(network)};
  auto [v, err] = resolve(k, network, address, false);
  if (err) return {addr(), err};
  return {v[0], nullptr};
}

std::pair<addr, error> resolve_udp_addr(std::string_view network, std::string_view address) {
  net_kind k = parse_network(network);
  if (!k.ok || k.base != "udp") return {addr(), unknown_network(network)};
  auto [v, err] = resolve(k, network, address, false);
  if (err) return {addr(), err};
  return {v[0], nullptr};
}

std::pair<std::vector<std::string>, error> lookup_host(std::string_view host) {
  net_kind k = parse_network("tcp");
  auto [v, err] = resolve(k, "tcp", join_host_port(host, "0"), false);
  std::vector<std::string> out;
  for (auto& a : v) out.push_back(a.ip());
  return {out, err};
}

// ---- listen / dial ----

std::pair<listener, error> listen(std::string_view network, std::string_view address) {
  std::string net(network);
  net_kind k = parse_network(network);
  if (!k.ok || k.sotype != SOCK_STREAM)
    return {listener(), op_err("listen", net, {}, {}, unknown_network(network))};
  addr la;
  if (k.family == AF_UNIX) {
    la = unix_addr(address);
  } else {
    auto [v, err] = resolve(k, network, address, true);
    if (err) return {listener(), op_err("listen", net, {}, {}, err)};
    la = v[0];
  }
  int family = reinterpret_cast<const sockaddr*>(la.sockaddr_ptr())->sa_family;
  int s = new_socket(family, SOCK_STREAM, k.family == AF_INET6);
  if (s < 0) return {listener(), op_err("listen", net, {}, la, os::new_syscall_error("socket", -s))};
  if (family != AF_UNIX) {
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  auto fail = [&](const char* sc) {
    int e = errno;
    ::close(s);
    return std::pair<listener, error>{listener(), op_err("listen", net, {}, la, os::new_syscall_error(sc, e))};
  };
  if (::bind(s, static_cast<const sockaddr*>(la.sockaddr_ptr()), la.sockaddr_len()) != 0) return fail("bind");
  if (::listen(s, listen_backlog()) != 0) return fail("listen");
  auto fd = std::make_shared<netfd>(s, family, SOCK_STREAM, net);
  if (int e = fd->init()) return {listener(), op_err("listen", net, {}, la, os::new_syscall_error("epollctl", e))};
  fd->laddr = family == AF_UNIX ? la : sock_name(s, k.base, false);
  if (family == AF_UNIX) fd->unlink_path = std::string(address);
  return {listener(std::move(fd)), nullptr};
}

namespace {

// Dials one address. deadline: nanotime or 0.
// Where a dial under a context publishes the socket being connected, so that the
// cancellation callback (another goroutine) can interrupt it.
struct interrupt_slot {
  os::rt_mutex mu;
  std::shared_ptr<netfd> fd;
  void set(std::shared_ptr<netfd> f) {
    os::rt_lock_guard lk(mu);
    fd = std::move(f);
  }
  std::shared_ptr<netfd> get() {
    os::rt_lock_guard lk(mu);
    return fd;
  }
};

// pending, if given, holds the netfd while its connect runs and is cleared before return.
std::pair<std::shared_ptr<netfd>, error> dial_one(const std::string& net, const net_kind& k,
                                                  const addr& ra, int64_t deadline,
                                                  interrupt_slot* pending = nullptr) {
  int family = reinterpret_cast<const sockaddr*>(ra.sockaddr_ptr())->sa_family;
  int s = new_socket(family, k.sotype, k.family == AF_INET6);
  if (s < 0) return {nullptr, os::new_syscall_error("socket", -s)};
  auto fd = std::make_shared<netfd>(s, family, k.sotype, net);
  if (int e = fd->init()) return {nullptr, os::new_syscall_error("epollctl", e)};
  if (pending != nullptr) pending->set(fd);
  int rc = fd->connect(static_cast<const sockaddr*>(ra.sockaddr_ptr()), ra.sockaddr_len(), deadline);
  if (pending != nullptr) pending->set(nullptr);
  if (rc != 0) {
    fd->close();
    return {nullptr, map_code(rc, "connect")};
  }
  std::string base = k.base;
  fd->laddr = sock_name(s, base, false);
  fd->raddr = sock_name(s, base, true);
  if (!fd->raddr) fd->raddr = ra;
  if (k.base == "tcp") fd->setsockopt_int(IPPROTO_TCP, TCP_NODELAY, 1);
  return {fd, nullptr};
}

}  // namespace

struct conn_access {
  static conn make(std::shared_ptr<netfd> fd) { return conn(std::move(fd)); }
};

namespace {

// Go: errCanceled / the dial timeout under a context (Go 1.20+: they match the context's
// errors with errors.Is).
struct ctx_error final : error_value {
  bool is_timeout;
  explicit ctx_error(bool t) : is_timeout(t) {}
  std::string message() const override { return is_timeout ? "i/o timeout" : "operation was canceled"; }
  bool timeout() const override { return is_timeout; }
  bool is(const error& target) const override {
    if (is_timeout) return target == context::deadline_exceeded || target == os::err_deadline_exceeded;
    return target == context::canceled;
  }
};

error map_ctx_err(const error& e) {
  static const error canceled_err(std::make_shared<const ctx_error>(false));
  static const error timeout_err(std::make_shared<const ctx_error>(true));
  return e == context::deadline_exceeded ? timeout_err : canceled_err;
}

// Go: Dialer.DialContext's sysDialer.dialSerial. deadline: nanotime or 0; ctx may be null.
std::pair<conn, error> dial_impl(std::string_view network, std::string_view address,
                                 int64_t deadline, const context::context* ctx) {
  std::string net(network);
  net_kind k = parse_network(network);
  if (!k.ok) return {conn(), op_err("dial", net, {}, {}, unknown_network(network))};
  bool ctx_deadline = false;  // the deadline is the context's (its timeout maps to ctx's error)
  if (ctx != nullptr) {
    if (error e = ctx->err()) return {conn(), op_err("dial", net, {}, {}, map_ctx_err(e))};
    if (auto d = ctx->deadline()) {
      int64_t dn = to_nanotime(*d);
      if (dn < 0) dn = 1;
      if (deadline == 0 || dn <= deadline) {
        deadline = dn;
        ctx_deadline = true;
      }
    }
  }
  std::vector<addr> addrs;
  if (k.family == AF_UNIX) {
    addrs.push_back(unix_addr(address));
  } else {
    auto [v, err] = resolve(k, network, address, false);
    if (err) return {conn(), op_err("dial", net, {}, {}, err)};
    addrs = std::move(v);
  }
  error first;
  for (const addr& ra : addrs) {
    if (ctx != nullptr) {
      if (error e = ctx->err()) {
        if (!first) first = op_err("dial", net, {}, ra, map_ctx_err(e));
        break;
      }
    }
    if (deadline != 0 && os::nanotime() >= deadline) {
      if (!first)
        first = op_err("dial", net, {}, ra,
                       ctx_deadline ? map_ctx_err(context::deadline_exceeded) : os::err_deadline_exceeded);
      break;
    }
    std::shared_ptr<netfd> fd;
    error err;
    if (ctx == nullptr || !ctx->done()) {
      std::tie(fd, err) = dial_one(net, k, ra, deadline);
    } else {
      // Cancellation interrupts the connect by moving its deadline into the past (Go: the
      // interrupter goroutine of netFD.connect setting aLongTimeAgo).
      auto pending = std::make_shared<interrupt_slot>();
      std::function<bool()> stop = context::after_func(*ctx, [pending] {
        if (auto f = pending->get()) f->set_deadline(-1, 'w');
      });
      std::tie(fd, err) = dial_one(net, k, ra, deadline, pending.get());
      if (!stop()) {
        // The context ended during the dial: it fails, as in Go, even if connected.
        if (fd) fd->close();
        fd = nullptr;
        err = map_ctx_err(ctx->err() ? ctx->err() : context::canceled);
      } else if (err == os::err_deadline_exceeded && (ctx->err() || ctx_deadline)) {
        err = map_ctx_err(ctx->err() ? ctx->err() : context::deadline_exceeded);
      }
    }
    if (!err) return {conn_access::make(std::move(fd)), nullptr};
    if (!first) first = op_err("dial", net, {}, ra, err);
  }
  return {conn(), first};
}

}  // namespace

std::pair<conn, error> dial_timeout(std::string_view network, std::string_view address,
                                    time::duration d) {
  int64_t deadline = 0;
  if (d.count() > 0) deadline = os::nanotime() + d.count();
  return dial_impl(network, address, deadline, nullptr);
}

std::pair<conn, error> dial(std::string_view network, std::string_view address) {
  return dial_impl(network, address, 0, nullptr);
}

std::pair<conn, error> dial_context(const context::context& ctx, std::string_view network,
                                    std::string_view address) {
  if (!ctx) throw gort::runtime_error("nil context");
  return dial_impl(network, address, 0, &ctx);
}

std::pair<packet_conn, error> listen_packet(std::string_view network, std::string_view address) {
  std::string net(network);
  net_kind k = parse_network(network);
  if (!k.ok || k.base != "udp") return {packet_conn(), op_err("listen", net, {}, {}, unknown_network(network))};
  auto [v, err] = resolve(k, network, address, true);
  if (err) return {packet_conn(), op_err("listen", net, {}, {}, err)};
  const addr& la = v[0];
  int family = reinterpret_cast<const sockaddr*>(la.sockaddr_ptr())->sa_family;
  int s = new_socket(family, SOCK_DGRAM, k.family == AF_INET6);
  if (s < 0) return {packet_conn(), op_err("listen", net, {}, la, os::new_syscall_error("socket", -s))};
  if (::bind(s, static_cast<const sockaddr*>(la.sockaddr_ptr()), la.sockaddr_len()) != 0) {
    int e = errno;
    ::close(s);
    return {packet_conn(), op_err("listen", net, {}, la, os::new_syscall_error("bind", e))};
  }
  auto fd = std::make_shared<netfd>(s, family, SOCK_DGRAM, net);
  if (int e = fd->init()) return {packet_conn(), op_err("listen", net, {}, la, os::new_syscall_error("epollctl", e))};
  fd->laddr = sock_name(s, "udp", false);
  return {packet_conn(std::move(fd)), nullptr};
}

// ---- listener ----

std::pair<conn, error> listener::accept() const {
  if (!fd_) return {conn(), invalid()};
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  int code = 0;
  int s = fd_->accept(&from, &len, &code);
  if (s < 0) return {conn(), op_err("accept", fd_->net, {}, fd_->laddr, map_code(code, "accept"))};
  auto fd = std::make_shared<netfd>(s, fd_->family, SOCK_STREAM, fd_->net);
  if (int e = fd->init()) return {conn(), op_err("accept", fd_->net, {}, fd_->laddr, os::new_syscall_error("epollctl", e))};
  std::string base = fd_->family == AF_UNIX ? "unix" : "tcp";
  fd->laddr = sock_name(s, base, false);
  fd->raddr = addr::from_sockaddr(base, &from, len);
  if (base == "tcp") fd->setsockopt_int(IPPROTO_TCP, TCP_NODELAY, 1);
  return {conn(std::move(fd)), nullptr};
}

error listener::close() const {
  if (!fd_) return invalid();
  return op_err("close", fd_->net, {}, fd_->laddr, map_code(fd_->close(), "close"));
}

error listener::set_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, {}, fd_->laddr, map_code(fd_->set_deadline(to_nanotime(t), 'r' + 'w'), "set"));
}

addr listener::address() const { return fd_ ? fd_->laddr : addr(); }

// ---- conn ----

std::pair<size_t, error> conn::read(std::span<char> buf) const {
  if (!fd_) return {0, invalid()};
  auto [n, code] = fd_->read(buf.data(), buf.size());
  if (code == detail::kErrEOF) return {0, io::eof};
  return {n, op_err("read", fd_->net, fd_->laddr, fd_->raddr, map_code(code, "read"))};
}

std::pair<size_t, error> conn::write(std::string_view data) const {
  if (!fd_) return {0, invalid()};
  auto [n, code] = fd_->write(data.data(), data.size());
  return {n, op_err("write", fd_->net, fd_->laddr, fd_->raddr, map_code(code, "write"))};
}

error conn::close() const {
  if (!fd_) return invalid();
  return op_err("close", fd_->net, fd_->laddr, fd_->raddr, map_code(fd_->close(), "close"));
}

error conn::close_read() const {
  if (!fd_) return invalid();
  return op_err("close", fd_->net, fd_->laddr, fd_->raddr, map_code(fd_->shutdown(SHUT_RD), "shutdown"));
}

error conn::close_write() const {
  if (!fd_) return invalid();
  return op_err("close", fd_->net, fd_->laddr, fd_->raddr, map_code(fd_->shutdown(SHUT_WR), "shutdown"));
}

error conn::set_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, fd_->raddr, map_code(fd_->set_deadline(to_nanotime(t), 'r' + 'w'), "set"));
}
error conn::set_read_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, fd_->raddr, map_code(fd_->set_deadline(to_nanotime(t), 'r'), "set"));
}
error conn::set_write_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, fd_->raddr, map_code(fd_->set_deadline(to_nanotime(t), 'w'), "set"));
}

error conn::set_no_delay(bool on) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, fd_->raddr,
                map_code(fd_->setsockopt_int(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0), "setsockopt"));
}

error conn::set_keep_alive(bool on) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, fd_->raddr,
                map_code(fd_->setsockopt_int(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0), "setsockopt"));
}

error conn::set_linger(int sec) const {
  if (!fd_) return invalid();
  if (!fd_->incref()) return op_err("set", fd_->net, fd_->laddr, fd_->raddr, err_closed);
  linger l{};
  l.l_onoff = sec >= 0;
  l.l_linger = sec >= 0 ? sec : 0;
  int r = ::setsockopt(fd_->sysfd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0 ? 0 : errno;
  fd_->decref();
  return op_err("set", fd_->net, fd_->laddr, fd_->raddr, map_code(r, "setsockopt"));
}

addr conn::local_addr() const { return fd_ ? fd_->laddr : addr(); }
addr conn::remote_addr() const { return fd_ ? fd_->raddr : addr(); }

// ---- packet_conn ----

std::tuple<size_t, addr, error> packet_conn::read_from(std::span<char> buf) const {
  if (!fd_) return {0, addr(), invalid()};
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  auto [n, code] = fd_->read_from(buf.data(), buf.size(), &from, &len);
  if (code != 0) return {0, addr(), op_err("read", fd_->net, fd_->laddr, {}, map_code(code, "recvfrom"))};
  return {n, addr::from_sockaddr("udp", &from, len), nullptr};
}

std::pair<size_t, error> packet_conn::write_to(std::string_view data, const addr& to) const {
  if (!fd_) return {0, invalid()};
  if (!to) return {0, op_err("write", fd_->net, fd_->laddr, {}, error(std::make_shared<const addr_error>("missing address", "")))};
  auto [n, code] = fd_->write_to(data.data(), data.size(), static_cast<const sockaddr*>(to.sockaddr_ptr()),
                                 to.sockaddr_len());
  return {n, op_err("write", fd_->net, fd_->laddr, to, map_code(code, "sendto"))};
}

error packet_conn::close() const {
  if (!fd_) return invalid();
  return op_err("close", fd_->net, fd_->laddr, {}, map_code(fd_->close(), "close"));
}
error packet_conn::set_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, {}, map_code(fd_->set_deadline(to_nanotime(t), 'r' + 'w'), "set"));
}
error packet_conn::set_read_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, {}, map_code(fd_->set_deadline(to_nanotime(t), 'r'), "set"));
}
error packet_conn::set_write_deadline(time_point t) const {
  if (!fd_) return invalid();
  return op_err("set", fd_->net, fd_->laddr, {}, map_code(fd_->set_deadline(to_nanotime(t), 'w'), "set"));
}
addr packet_conn::local_addr() const { return fd_ ? fd_->laddr : addr(); }

}  // namespace gort::net
