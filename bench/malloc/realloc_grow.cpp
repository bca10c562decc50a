// realloc_grow: buffers grown a piece at a time with realloc, as C programs read input of
// unknown length: `rounds` times, one buffer grown by 64 KiB steps to 64 MiB and 16 grown
// by 4 KiB steps to 1 MiB each, every step's bytes written and all of them checked at the
// end. An allocator that copies the whole buffer at every step is quadratic here.
#include <cstring>

#include "common.hpp"

namespace {

// Grows one buffer from nothing to `end` bytes by `step`, writing each new piece; returns
// false if the contents did not survive.
bool grow(std::size_t step, std::size_t end) {
  unsigned char* buf = nullptr;
  for (std::size_t len = 0; len < end; len += step) {
    auto* grown = static_cast<unsigned char*>(std::realloc(buf, len + step));
    if (grown == nullptr) std::abort();
    buf = grown;
    std::memset(buf + len, int((len / step) & 0xff), step);
  }
  bool ok = true;
  for (std::size_t at = 0; at < end; at += step)
    ok = ok && buf[at] == ((at / step) & 0xff) && buf[at + step - 1] == buf[at];
  std::free(buf);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = bench::arg_int(argc, argv, 1, 4);
  double t0 = bench::now_s();
  for (int r = 0; r < rounds; r++) {
    if (!grow(64 << 10, std::size_t(64) << 20)) std::abort();
    for (int i = 0; i < 16; i++)
      if (!grow(4 << 10, std::size_t(1) << 20)) std::abort();
  }
  bench::report("realloc_grow", t0);
}
