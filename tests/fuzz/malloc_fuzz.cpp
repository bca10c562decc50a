// malloc_fuzz: libFuzzer target driving gort's allocator with alloc/free/realloc sequences
// (realloc growing large objects in place where it can), with free pages released to the
// OS in between (free_os_memory: live objects must keep their contents).
// Each input byte stream is a program: an opcode byte, then operands. Every live object is
// filled with a pattern derived from its slot and size and checked before it is freed or
// resized, so overlapping objects, lost frees and bad reuse show up as a content mismatch
// (or, with ASan, as a poisoned access). Slots are freed at the end of each input.
//
// Built with clang -fsanitize=fuzzer it is a libFuzzer binary. Otherwise (GCC, or any
// build) main() runs every file given on the command line and then a few thousand
// deterministic random programs, so ctest exercises the same code on the fixed corpus.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "gort/mem.hpp"
#include "malloc/malloc.hpp"

namespace {

constexpr int kSlots = 64;
long grown_in_place = 0;  // reported by main: the in-place path is exercised

struct slot {
  unsigned char* p = nullptr;
  std::size_t size = 0;
  bool tiny = false;
};

unsigned char pattern(int s, std::size_t i) { return static_cast<unsigned char>(s * 31 + i * 7 + 1); }

void fill(slot& sl, int s) {
  for (std::size_t i = 0; i < sl.size; i++) sl.p[i] = pattern(s, i);
}

void check(const slot& sl, int s) {
  for (std::size_t i = 0; i < sl.size; i++) {
    if (sl.p[i] != pattern(s, i)) {
      std::fprintf(stderr, "malloc_fuzz: slot %d (size %zu) byte %zu corrupted\n", s, sl.size, i);
      std::abort();
    }
  }
}

std::size_t pick_size(std::uint8_t kind, std::uint16_t v) {
  switch (kind % 4) {
    case 0: return v % 16;                       // tiny and the smallest classes
    case 1: return v % 1024;                     // size_to_class8 range
    case 2: return v % 32769;                    // every small class
    default: return 32768 + std::size_t(v % 4096) * 37;  // large: up to ~180 KiB
  }
}

void release(slot& sl, int s) {
  if (sl.p == nullptr) return;
  check(sl, s);
  gort::mem::free(sl.p);
  sl = slot{};
}

void run_program(const std::uint8_t* data, std::size_t n) {
  slot slots[kSlots];
  std::size_t i = 0;
  auto byte = [&]() -> std::uint8_t { return i < n ? data[i++] : 0; };
  while (i < n) {
    std::uint8_t op = byte();
    int s = byte() % kSlots;
    slot& sl = slots[s];
    switch (op % 7) {
      case 0: {  // alloc
        release(sl, s);
        std::uint8_t kind = byte();
        std::uint16_t v = std::uint16_t(byte() | byte() << 8);
        sl.size = pick_size(kind, v);
        sl.p = static_cast<unsigned char*>(gort::mem::alloc(sl.size));
        for (std::size_t k = 0; k < sl.size; k++) {
          if (sl.p[k] != 0) {
            std::fprintf(stderr, "malloc_fuzz: alloc(%zu) not zeroed\n", sl.size);
            std::abort();
          }
        }
        fill(sl, s);
        break;
      }
      case 1:  // free
        release(sl, s);
        break;
      case 2: {  // realloc: a large object grows in place if it can, else new object, copy, free
        std::uint16_t v = std::uint16_t(byte() | byte() << 8);
        std::size_t size = pick_size(byte(), v);
        if (sl.p != nullptr && size > sl.size) {
          check(sl, s);
          if (gort::malloc::grow_in_place(sl.p, size)) {  // small objects never do
            grown_in_place++;
            sl.size = size;
            fill(sl, s);  // over whatever else the new pages held, were they not free
            break;
          }
        }
        auto* q = static_cast<unsigned char*>(gort::mem::alloc(size));
        if (sl.p != nullptr) {
          check(sl, s);
          std::memcpy(q, sl.p, size < sl.size ? size : sl.size);
          gort::mem::free(sl.p);
        }
        sl.p = q;
        sl.size = size;
        fill(sl, s);
        break;
      }
      case 3: {  // tiny / noscan
        release(sl, s);
        sl.size = byte() % 40;
        sl.p = static_cast<unsigned char*>(gort::mem::alloc_noscan(sl.size));
        sl.tiny = true;
        fill(sl, s);
        break;
      }
      case 4: {  // aligned
        release(sl, s);
        std::size_t align = std::size_t{1} << (byte() % 17);  // up to 64 KiB
        sl.size = pick_size(byte(), std::uint16_t(byte() | byte() << 8));
        sl.p = static_cast<unsigned char*>(gort::mem::alloc(sl.size, align));
        if (reinterpret_cast<std::uintptr_t>(sl.p) % align != 0) {
          std::fprintf(stderr, "malloc_fuzz: misaligned\n");
          std::abort();
        }
        fill(sl, s);
        break;
      }
      case 5: {  // free on another thread
        if (sl.p == nullptr) break;
        check(sl, s);
        std::thread([p = sl.p] { gort::mem::free(p); }).join();
        sl = slot{};
        break;
      }
      case 6:  // release every free page to the OS
        gort::debug::free_os_memory();
        break;
    }
  }
  for (int s = 0; s < kSlots; s++) release(slots[s], s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run_program(data, size);
  return 0;
}

#if !defined(GORT_LIBFUZZER)
// Runs the corpus files named on the command line, then deterministic random programs.
int main(int argc, char** argv) {
  int files = 0;
  for (int a = 1; a < argc; a++) {
    FILE* f = std::fopen(argv[a], "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "malloc_fuzz: cannot open %s\n", argv[a]);
      return 1;
    }
    std::vector<std::uint8_t> buf;
    int c;
    while ((c = std::fgetc(f)) != EOF) buf.push_back(static_cast<std::uint8_t>(c));
    std::fclose(f);
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    files++;
  }
  std::uint64_t x = 0x9e3779b97f4a7c15u;
  int programs = 0;
  for (; programs < 300; programs++) {
    std::vector<std::uint8_t> buf(64 + programs % 512);
    for (auto& b : buf) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<std::uint8_t>(x);
      // Mostly cheap ops: thread frees (op 5) only now and then.
      if (&b - buf.data() > 0 && (&b)[-1] % 6 == 5 && (x >> 32) % 8 != 0) b = 1;
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  gort::mem_stats st = gort::read_mem_stats();
  std::printf("malloc_fuzz: %d corpus files, %d random programs, ok (heap_objects %llu, %ld grown in place)\n",
              files, programs, static_cast<unsigned long long>(st.heap_objects), grown_in_place);
  return 0;
}
#endif
