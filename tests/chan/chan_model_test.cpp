// chan_model_test: a differential test. Random sequences of channel operations that cannot
// block (try_send, non-blocking selects, sends and receives the model knows will not
// block, close, len, cap) run on real channels and on a plain single-threaded model of
// Go's semantics (a bounded FIFO, a closed flag, nil); every result, panic and length must
// agree. Multi-case selects must pick one of the cases the model says are ready.
#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gort/gort.hpp"

namespace {

struct model_chan {
  bool nil = false;
  int64_t cap = 0;
  std::deque<int> q;
  bool closed = false;

  bool recv_ready() const { return !nil && (!q.empty() || closed); }
  bool send_ready() const { return !nil && (closed || int64_t(q.size()) < cap); }
};

// The text of the runtime_error f throws, or "" when it returns.
template <class F>
std::string panic_of(F&& f) {
  try {
    f();
  } catch (const gort::runtime_error& e) {
    return e.what();
  }
  return "";
}

struct harness {
  std::mt19937 rng;
  std::vector<gort::chan<int>> real;
  std::vector<model_chan> model;
  int next = 1;

  explicit harness(uint32_t seed) : rng(seed) {
    int n = 2 + int(rng() % 3);
    for (int i = 0; i < n; i++) {
      model_chan m;
      if (rng() % 8 == 0) {
        m.nil = true;
        real.emplace_back();
      } else {
        int64_t caps[] = {0, 1, 2, 3, 5};
        m.cap = caps[rng() % 5];
        real.push_back(gort::make_chan<int>(m.cap));
      }
      model.push_back(m);
    }
  }

  size_t pick() { return rng() % real.size(); }

  void check_lengths(int step) {
    for (size_t i = 0; i < real.size(); i++) {
      ASSERT_EQ(real[i].len(), int64_t(model[i].q.size())) << "step " << step << " chan " << i;
      ASSERT_EQ(real[i].cap(), model[i].nil ? 0 : model[i].cap);
    }
  }

  void step(int stepno) {
    size_t i = pick();
    auto& r = real[i];
    auto& m = model[i];
    switch (rng() % 8) {
      case 0: {  // try_send
        int v = next++;
        bool ok = false;
        std::string p = panic_of([&] { ok = r.try_send(v); });
        if (m.nil) {
          ASSERT_EQ(p, "");
          ASSERT_FALSE(ok);
        } else if (m.closed) {
          ASSERT_EQ(p, "send on closed channel");
        } else {
          ASSERT_EQ(p, "");
          ASSERT_EQ(ok, int64_t(m.q.size()) < m.cap);
          if (ok) m.q.push_back(v);
        }
        break;
      }
      case 1: {  // blocking send that the model says completes at once
        if (m.nil || (!m.closed && int64_t(m.q.size()) >= m.cap)) break;
        int v = next++;
        std::string p = panic_of([&] { r.send(v); });
        if (m.closed) {
          ASSERT_EQ(p, "send on closed channel");
        } else {
          ASSERT_EQ(p, "");
          m.q.push_back(v);
        }
        break;
      }
      case 2: {  // select { case v, ok := <-c: default: }
        int got = -1;
        bool got_ok = false;
        int n = gort::select(gort::case_recv(r, [&](int v, bool ok) { got = v, got_ok = ok; }),
                             gort::case_default());
        if (!m.recv_ready()) {
          ASSERT_EQ(n, 1);
        } else if (!m.q.empty()) {
          ASSERT_EQ(n, 0);
          ASSERT_TRUE(got_ok);
          ASSERT_EQ(got, m.q.front());
          m.q.pop_front();
        } else {
          ASSERT_EQ(n, 0);
          ASSERT_FALSE(got_ok);
          ASSERT_EQ(got, 0);
        }
        break;
      }
      case 3: {  // blocking receive that the model says completes at once
        if (!m.recv_ready()) break;
        auto [v, ok] = r.recv_ok();
        if (!m.q.empty()) {
          ASSERT_TRUE(ok);
          ASSERT_EQ(v, m.q.front());
          m.q.pop_front();
        } else {
          ASSERT_FALSE(ok);
          ASSERT_EQ(v, 0);
        }
        break;
      }
      case 4: {  // close
        if (rng() % 4 != 0) break;
        std::string p = panic_of([&] { r.close(); });
        if (m.nil) {
          ASSERT_EQ(p, "close of nil channel");
        } else if (m.closed) {
          ASSERT_EQ(p, "close of closed channel");
        } else {
          ASSERT_EQ(p, "");
          m.closed = true;
        }
        break;
      }
      default: {  // a multi-case select with default over random channels and directions
        struct mcase {
          size_t ch;
          bool send;
          int v;
        };
        mcase cs[3];
        for (auto& c : cs) c = {pick(), rng() % 2 == 0, next++};
        int got = -1;
        bool got_ok = false;
        auto on_recv = [&](int v, bool ok) { got = v, got_ok = ok; };
        int n = -2;
        std::string p = panic_of([&] {
          auto rc = [&](int k) { return real[cs[k].ch]; };
          // Build the three cases (each a send or a receive) and a default.
          auto run3 = [&](auto c0, auto c1, auto c2) {
            n = gort::select(std::move(c0), std::move(c1), std::move(c2), gort::case_default());
          };
          auto mk = [&](int k, auto&& then) {
            if (cs[k].send)
              then(gort::case_send(rc(k), cs[k].v));
            else
              then(gort::case_recv(rc(k), on_recv));
          };
          mk(0, [&](auto c0) { mk(1, [&](auto c1) { mk(2, [&](auto c2) { run3(c0, c1, c2); }); }); });
        });
        // Which cases were ready, per the model?
        std::vector<int> ready;
        bool closed_send_ready = false;
        for (int k = 0; k < 3; k++) {
          auto& mk = model[cs[k].ch];
          if (cs[k].send ? mk.send_ready() : mk.recv_ready()) {
            ready.push_back(k);
            if (cs[k].send && mk.closed) closed_send_ready = true;
          }
        }
        if (!p.empty()) {
          ASSERT_EQ(p, "send on closed channel");
          ASSERT_TRUE(closed_send_ready);
          break;
        }
        if (ready.empty()) {
          ASSERT_EQ(n, 3) << "step " << stepno;
          break;
        }
        ASSERT_GE(n, 0);
        ASSERT_LT(n, 3);
        ASSERT_NE(std::find(ready.begin(), ready.end(), n), ready.end()) << "step " << stepno;
        auto& mc = model[cs[n].ch];
        if (cs[n].send) {
          ASSERT_FALSE(mc.closed);
          mc.q.push_back(cs[n].v);
        } else if (!mc.q.empty()) {
          ASSERT_TRUE(got_ok);
          ASSERT_EQ(got, mc.q.front());
          mc.q.pop_front();
        } else {
          ASSERT_FALSE(got_ok);
          ASSERT_EQ(got, 0);
        }
        break;
      }
    }
    check_lengths(stepno);
  }
};

}  // namespace

TEST(ChanModel, RandomOperationsMatchTheModel) {
  gort::run([] {
    for (uint32_t seed = 1; seed <= 300; seed++) {
      harness h(seed);
      for (int s = 0; s < 400; s++) {
        h.step(s);
        if (testing::Test::HasFatalFailure()) {
          ADD_FAILURE() << "seed " << seed << " step " << s;
          return;
        }
      }
      // Drain: what is buffered comes out in order.
      for (size_t i = 0; i < h.real.size(); i++) {
        if (h.model[i].nil) continue;
        for (int want : h.model[i].q) ASSERT_EQ(h.real[i].try_recv(), std::optional<int>(want));
        ASSERT_FALSE(h.real[i].try_recv().has_value());
      }
    }
  });
}
