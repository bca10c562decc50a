// strbuild: five ways to build a 1,000-piece string (each piece the 8 bytes "abcdefgh"), as
// Go spells them: s = s + piece (gort::string), s = fmt::sprintf("%s%s", s, piece),
// bytes::buffer, strings::builder, and append to a slice<uint8_t> then gort::string(b).
// Each way builds its string reps[way] times; the extra fields are ns per built string for
// each way, ns_per_op their mean. check = total bytes built = 243200000.
// The gort counterpart of bench/go/strbuild/main.go.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>

#include <gort/bytes.hpp>
#include <gort/fmt.hpp>
#include <gort/slice.hpp>
#include <gort/string.hpp>
#include <gort/strings.hpp>

namespace {

constexpr int pieces = 1000;
constexpr std::string_view piece = "abcdefgh";
constexpr int reps[5] = {200, 200, 10000, 10000, 10000};

gort::string plus() {
  gort::string s;
  for (int i = 0; i < pieces; i++) s = s + piece;
  return s;
}

gort::string sprintf_way() {
  gort::string s;
  for (int i = 0; i < pieces; i++) s = gort::fmt::sprintf("%s%s", s, piece);
  return s;
}

gort::string buffer() {
  gort::bytes::buffer b;
  for (int i = 0; i < pieces; i++) b.write_string(piece);
  return b.str();
}

gort::string builder() {
  gort::strings::builder b;
  for (int i = 0; i < pieces; i++) b.write_string(piece);
  return b.str();
}

gort::string append_bytes() {
  gort::slice<uint8_t> b;
  auto p = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(piece.data()), piece.size());
  for (int i = 0; i < pieces; i++) b = gort::append_all(std::move(b), p);
  return gort::string(b);
}

}  // namespace

int main() {
  gort::string (*ways[5])() = {plus, sprintf_way, buffer, builder, append_bytes};
  double ns[5];
  int64_t check = 0, ops = 0;
  double total = 0;
  for (int w = 0; w < 5; w++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps[w]; r++) {
      gort::string s = ways[w]();
      check += s.len();
    }
    double d = double(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    total += d;
    ns[w] = d / reps[w];
    ops += reps[w];
  }
  double mean = (ns[0] + ns[1] + ns[2] + ns[3] + ns[4]) / 5;
  std::printf(
      "{\"workload\": \"strbuild\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, \"check\": %lld, "
      "\"plus_ns\": %.3f, \"sprintf_ns\": %.3f, \"buffer_ns\": %.3f, \"builder_ns\": %.3f, \"append_ns\": %.3f, "
      "\"total_ms\": %.3f}\n",
      mean, (long long)ops, (long long)check, ns[0], ns[1], ns[2], ns[3], ns[4], total / 1e6);
  return 0;
}
