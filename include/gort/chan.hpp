// gort/chan.hpp — channels (Go: chan T, chan<- T, <-chan T; runtime/chan.go).
//
//   auto c = gort::make_chan<int>(16);          // make(chan int, 16); make_chan<int>() is unbuffered
//   gort::go([c] { for (int i = 0; i < 3; i++) c.send(i); c.close(); });
//   for (int v : c) std::printf("%d\n", v);     // for v := range c
//   auto [v, ok] = c.recv_ok();                 // v, ok := <-c   (0, false: closed and drained)
//
// A gort::chan<T> is a reference, as in Go: copies share one channel, and a
// default-constructed chan is the nil channel. gort::send_chan<T> (chan<- T) and
// gort::recv_chan<T> (<-chan T) are the directional views; a chan<T> converts to either.
//
// Operations (Go spelling in the right column):
//
//   c.send(v)             c <- v           blocks until a receiver takes v or there is room
//   c.recv()              <-c              T{} (the zero value) once closed and drained
//   c.recv_ok()           v, ok := <-c     a {value, ok} pair, for `auto [v, ok] = ...`
//   c.recv_opt()          v, ok := <-c     std::optional<T>: nullopt once closed and drained
//                                          (the form for a T with no default constructor)
//   c.try_send(v)         select { case c <- v: ... default: }   true if sent
//   c.try_recv()          select { case v := <-c: ... default: } a value, or nullopt when
//                                          none is ready (or the channel is closed and drained)
//   c.close()             close(c)
//   c.len(), c.cap()      len(c), cap(c)
//   for (auto& v : c)     for v := range c (until closed and drained)
//
// gort::select (gort/select.hpp) waits on several channel operations at once.
//
// Semantics are Go's: a send to a waiting receiver moves the value straight into it; values
// sent on a buffered channel are received in FIFO order, and blocked senders and receivers
// are served in FIFO order; a receive after close drains the buffer, then yields the zero
// value with ok == false; close wakes every blocked receiver (ok == false) and every blocked
// sender, whose send then panics. Misuse throws gort::runtime_error with Go's text: "send
// on closed channel", "close of closed channel", "close of nil channel". A send or receive
// on a nil channel blocks forever (so it can end in Go's deadlock fatal error).
//
// Values: T may be move-only, and may be an empty type (chan<struct{}>-style channels keep
// no buffer at all). A value is moved (never copied) from the sender into the buffer or
// straight into the receiver; each value is destroyed exactly once. send(T&&) and
// try_send(T&&) move from their argument only when the value is sent (a panicking or failed
// send leaves it untouched). T's move constructor and destructor run under the channel's
// lock: they must not throw (a throw ends the program) or use channels themselves.
//
// Blocking parks the goroutine, never its thread. Called from a plain thread (not a
// goroutine), a blocking operation blocks that thread, so goroutines and plain threads can
// talk over channels; channels between plain threads work even without a gort::run.
//
// Lifetime: the channel lives as long as any handle; values still buffered when the last
// handle goes are destroyed then. The handle an operation is called on must outlive the
// call (as for any C++ object).
#pragma once
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/errors.hpp"

namespace gort {

// ---- The runtime's interface (src/chan/chan.cpp); not for direct use. ----
namespace rt {

struct hchan;  // Go: runtime.hchan

// How the runtime moves and destroys elements (Go: the channel's *_type). move == null:
// trivially copyable, copied with memcpy; destroy == null: trivially destructible.
struct chantype {
  uint32_t size;   // 0 for empty trivial types: no storage at all
  uint32_t align;
  void (*move)(void* dst, void* src) noexcept;  // move-construct *dst from *src
  void (*destroy)(void* p) noexcept;
};

hchan* makechan(const chantype* t, int64_t size);
void chanretain(hchan* c);
void chanrelease(hchan* c);
// c <- *elem. block == false: only if it can complete at once. Moves from *elem only when
// the value is sent. True if sent. (Go: chansend)
bool chansend(hchan* c, void* elem, bool block);
// <-c into elem (uninitialised storage for a T; null: discard). Returns whether the
// operation completed (always, when blocking); *received: a value was constructed at elem
// (false: closed and drained). (Go: chanrecv)
bool chanrecv(hchan* c, void* elem, bool block, bool* received);
void closechan(hchan* c);
int64_t chanlen(const hchan* c);
int64_t chancap(const hchan* c);

}  // namespace rt

namespace detail {

template <class T>
struct chantype_of {
  static constexpr bool trivial = std::is_trivially_copyable_v<T>;
  static constexpr bool zero_size =
      std::is_empty_v<T> && trivial && std::is_trivially_default_constructible_v<T>;
  static void move(void* dst, void* src) noexcept {
    ::new (dst) T(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr rt::chantype value{
      zero_size ? 0u : uint32_t(sizeof(T)), uint32_t(alignof(T)), trivial ? nullptr : &move,
      std::is_trivially_destructible_v<T> ? nullptr : &destroy};
};

// Storage that a receive constructs a T in. Trivial types are received straight into a T.
template <class T, bool Trivial = std::is_trivially_copyable_v<T> &&
                                  std::is_trivially_default_constructible_v<T>>
struct recv_slot {
  alignas(T) unsigned char buf[sizeof(T)];
  void* ptr() noexcept { return buf; }
  // Moves the received value out and ends the slot's object.
  T take() {
    T* p = std::launder(reinterpret_cast<T*>(buf));
    struct destroy {
      T* p;
      ~destroy() { p->~T(); }
    } d{p};
    return std::move(*p);
  }
};
template <class T>
struct recv_slot<T, true> {
  T v;
  void* ptr() noexcept { return &v; }
  T take() noexcept { return v; }
};

template <class T>
std::optional<T> recv_opt(rt::hchan* c) {
  recv_slot<T> s;
  bool ok;
  rt::chanrecv(c, s.ptr(), true, &ok);
  if (!ok) return std::nullopt;
  return std::optional<T>(s.take());
}

// The handle: one reference to an hchan (null: the nil channel).
class chan_handle {
 public:
  chan_handle() noexcept = default;
  chan_handle(std::nullptr_t) noexcept {}
  chan_handle(const chan_handle& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) rt::chanretain(c_);
  }
  chan_handle(chan_handle&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  chan_handle& operator=(const chan_handle& o) noexcept {
    if (o.c_ != nullptr) rt::chanretain(o.c_);
    if (c_ != nullptr) rt::chanrelease(c_);
    c_ = o.c_;
    return *this;
  }
  chan_handle& operator=(chan_handle&& o) noexcept {
    if (this != &o) {
      if (c_ != nullptr) rt::chanrelease(c_);
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~chan_handle() {
    if (c_ != nullptr) rt::chanrelease(c_);
  }

  // len(c): values buffered now; cap(c): the buffer's size. Both 0 for the nil channel.
  int64_t len() const noexcept { return rt::chanlen(c_); }
  int64_t cap() const noexcept { return rt::chancap(c_); }
  // False for the nil channel.
  explicit operator bool() const noexcept { return c_ != nullptr; }
  // Go's channel comparison: the same channel (or both nil).
  friend bool operator==(const chan_handle& a, const chan_handle& b) noexcept {
    return a.c_ == b.c_;
  }
  friend bool operator==(const chan_handle& a, std::nullptr_t) noexcept { return a.c_ == nullptr; }

  // The runtime's channel (for gort::select and the runtime's own use).
  rt::hchan* raw() const noexcept { return c_; }

 protected:
  explicit chan_handle(rt::hchan* adopt) noexcept : c_(adopt) {}
  rt::hchan* c_ = nullptr;
};

template <class T>
class chan_iterator {
 public:
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  chan_iterator() = default;
  explicit chan_iterator(rt::hchan* c) : c_(c) { ++*this; }
  T& operator*() const { return *cur_; }
  T* operator->() const { return &*cur_; }
  chan_iterator& operator++() {
    cur_.reset();
    recv_slot<T> s;
    bool ok;
    rt::chanrecv(c_, s.ptr(), true, &ok);
    if (ok) cur_.emplace(s.take());
    return *this;
  }
  void operator++(int) { ++*this; }
  friend bool operator==(const chan_iterator& it, std::default_sentinel_t) { return !it.cur_; }

 private:
  rt::hchan* c_ = nullptr;
  mutable std::optional<T> cur_;
};

// The send half, shared by chan<T> and send_chan<T>.
template <class T>
struct send_ops {
  static void send(rt::hchan* c, T& v) { rt::chansend(c, std::addressof(v), true); }
  static bool try_send(rt::hchan* c, T& v) { return rt::chansend(c, std::addressof(v), false); }
};

}  // namespace detail

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

// The result of recv_ok(): Go's `v, ok`.
template <class T>
struct recv_result {
  T value;
  bool ok;
};

#define GORT_CHAN_SEND_OPS_                                                                  \
  /* c <- v. Blocks until the value is taken or buffered; moves from v only when sent. */   \
  void send(T&& v) const { detail::send_ops<T>::send(this->c_, v); }                        \
  void send(const T& v) const                                                               \
    requires std::copy_constructible<T>                                                     \
  {                                                                                         \
    T copy(v);                                                                              \
    detail::send_ops<T>::send(this->c_, copy);                                              \
  }                                                                                         \
  /* Non-blocking send (select with a default): true if sent; v is moved from only then. */ \
  bool try_send(T&& v) const { return detail::send_ops<T>::try_send(this->c_, v); }         \
  bool try_send(const T& v) const                                                           \
    requires std::copy_constructible<T>                                                     \
  {                                                                                         \
    T copy(v);                                                                              \
    return detail::send_ops<T>::try_send(this->c_, copy);                                   \
  }                                                                                         \
  /* close(c). */                                                                           \
  void close() const { rt::closechan(this->c_); }

#define GORT_CHAN_RECV_OPS_                                                                  \
  /* <-c: the next value, or T{} (the zero value) once the channel is closed and drained. */ \
  T recv() const                                                                             \
    requires std::default_initializable<T>                                                   \
  {                                                                                          \
    detail::recv_slot<T> s;                                                                  \
    bool ok;                                                                                 \
    rt::chanrecv(this->c_, s.ptr(), true, &ok);                                              \
    if (!ok) return T{};                                                                     \
    return s.take();                                                                         \
  }                                                                                          \
  /* v, ok := <-c: ok is false (and value T{}) once the channel is closed and drained. */    \
  recv_result<T> recv_ok() const                                                             \
    requires std::default_initializable<T>                                                   \
  {                                                                                          \
    detail::recv_slot<T> s;                                                                  \
    bool ok;                                                                                 \
    rt::chanrecv(this->c_, s.ptr(), true, &ok);                                              \
    if (!ok) return recv_result<T>{T{}, false};                                              \
    return recv_result<T>{s.take(), true};                                                   \
  }                                                                                          \
  /* v, ok := <-c as an optional: nullopt once the channel is closed and drained. */         \
  std::optional<T> recv_opt() const { return detail::recv_opt<T>(this->c_); }                \
  /* Non-blocking receive: a value if one can be had at once, else nullopt. */               \
  std::optional<T> try_recv() const {                                                        \
    detail::recv_slot<T> s;                                                                  \
    bool ok = false;                                                                         \
    if (!rt::chanrecv(this->c_, s.ptr(), false, &ok) || !ok) return std::nullopt;            \
    return std::optional<T>(s.take());                                                       \
  }                                                                                          \
  /* for (auto& v : c): receives until the channel is closed and drained. */                 \
  detail::chan_iterator<T> begin() const { return detail::chan_iterator<T>(this->c_); }      \
  std::default_sentinel_t end() const { return {}; }

// chan<- T: a send-only view.
template <class T>
class send_chan : public detail::chan_handle {
 public:
  using value_type = T;
  send_chan() noexcept = default;
  send_chan(std::nullptr_t) noexcept {}
  GORT_CHAN_SEND_OPS_

 private:
  friend class chan<T>;
  explicit send_chan(const detail::chan_handle& h) : detail::chan_handle(h) {}
};

// <-chan T: a receive-only view.
template <class T>
class recv_chan : public detail::chan_handle {
 public:
  using value_type = T;
  recv_chan() noexcept = default;
  recv_chan(std::nullptr_t) noexcept {}
  GORT_CHAN_RECV_OPS_

 private:
  friend class chan<T>;
  explicit recv_chan(const detail::chan_handle& h) : detail::chan_handle(h) {}
};

// chan T: a bidirectional channel. Default-constructed: the nil channel.
template <class T>
class chan : public detail::chan_handle {
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T> && std::is_destructible_v<T>,
                "gort::chan<T>: T must be an object type");
  static_assert(std::is_move_constructible_v<T>, "gort::chan<T>: T must be movable");

 public:
  using value_type = T;
  chan() noexcept = default;
  chan(std::nullptr_t) noexcept {}

  GORT_CHAN_SEND_OPS_
  GORT_CHAN_RECV_OPS_

  // The directional views (Go's implicit conversion of chan T to chan<- T and <-chan T).
  operator send_chan<T>() const& { return send_chan<T>(static_cast<const chan_handle&>(*this)); }
  operator recv_chan<T>() const& { return recv_chan<T>(static_cast<const chan_handle&>(*this)); }
  send_chan<T> send_only() const { return *this; }
  recv_chan<T> recv_only() const { return *this; }

 private:
  template <class U>
  friend chan<U> make_chan(int64_t);
  explicit chan(rt::hchan* adopt) noexcept : detail::chan_handle(adopt) {}
};

#undef GORT_CHAN_SEND_OPS_
#undef GORT_CHAN_RECV_OPS_

// make(chan T, size): a channel with a buffer of `size` values (0: unbuffered). A negative
// size panics with "makechan: size out of range".
template <class T>
chan<T> make_chan(int64_t size = 0) {
  return chan<T>(rt::makechan(&detail::chantype_of<T>::value, size));
}

}  // namespace gort
