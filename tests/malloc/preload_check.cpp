// preload_check: a plain program (no gort) run with LD_PRELOAD=libgort_malloc.so by ctest.
// It checks that the C and C++ allocation functions are gort's (Go's size classes show in
// malloc_usable_size, Go's arena hint in the addresses) and behave as C says: errno and
// null on overflow and exhaustion, alignment, realloc keeping contents, frees across
// threads, many short-lived threads, and fork while other threads allocate.
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <new>
#include <thread>
#include <vector>

static int failures = 0;
#define CHECK(c)                                                   \
  do {                                                             \
    if (!(c)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                  \
    }                                                              \
  } while (0)

int main() {
  // gort's classes: 100 -> 112 bytes (glibc would say 104), 3000 -> 3072.
  void* p = malloc(100);
  CHECK(malloc_usable_size(p) == 112);
  CHECK(reinterpret_cast<uintptr_t>(p) >= 0xc000000000u);
  free(p);
  p = malloc(3000);
  CHECK(malloc_usable_size(p) == 3072);
  free(p);

  volatile size_t half = SIZE_MAX / 2, nearly_all = SIZE_MAX - 100, too_big = size_t(1) << 60;
  errno = 0;
  CHECK(calloc(half, 4) == nullptr && errno == ENOMEM);
  errno = 0;
  CHECK(malloc(nearly_all) == nullptr && errno == ENOMEM);
  errno = 0;
  CHECK(malloc(too_big) == nullptr && errno == ENOMEM);
  bool threw = false;
  try {
    volatile size_t huge = size_t(1) << 60;
    char* q = new char[huge];
    q[0] = 1;
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  CHECK(operator new(size_t(1) << 60, std::nothrow) == nullptr);

  auto* z = static_cast<unsigned char*>(calloc(1000, 100));
  bool zero = true;
  for (int i = 0; i < 100000; i++) zero = zero && z[i] == 0;
  CHECK(zero);
  free(z);

  for (size_t align = sizeof(void*); align <= (size_t(1) << 20); align <<= 1) {
    void* a = nullptr;
    CHECK(posix_memalign(&a, align, 100) == 0 && reinterpret_cast<uintptr_t>(a) % align == 0);
    free(a);
    a = aligned_alloc(align, align * 3);
    CHECK(a != nullptr && reinterpret_cast<uintptr_t>(a) % align == 0);
    free(a);
    a = memalign(align, 10);
    CHECK(a != nullptr && reinterpret_cast<uintptr_t>(a) % align == 0);
    free(a);
  }
  void* a = nullptr;
  CHECK(posix_memalign(&a, 3, 10) == EINVAL);
  void* v = valloc(10);
  CHECK(reinterpret_cast<uintptr_t>(v) % 4096 == 0);
  free(v);
  struct alignas(256) big_aligned { char c[300]; };
  auto* ba = new big_aligned[3];
  CHECK(reinterpret_cast<uintptr_t>(ba) % 256 == 0);
  delete[] ba;

  char* r = static_cast<char*>(malloc(10));
  memcpy(r, "0123456789", 10);
  for (size_t n = 20; n < (size_t(4) << 20); n *= 3) {
    r = static_cast<char*>(realloc(r, n));
    CHECK(r != nullptr && memcmp(r, "0123456789", 10) == 0);
  }
  r = static_cast<char*>(realloc(r, 5));
  CHECK(memcmp(r, "01234", 5) == 0);
  free(r);
  free(nullptr);

  // A buffer grown 4 KiB at a time to 16 MiB moves a few dozen times (a large object
  // grows by a quarter at least), not at every step (2,052 moves before), keeping its
  // contents.
  {
    constexpr size_t step = 4096, end = size_t(16) << 20;
    char* buf = nullptr;
    int moves = 0;
    bool kept = true;
    for (size_t len = 0; len < end; len += step) {
      char* grown = static_cast<char*>(realloc(buf, len + step));
      CHECK(grown != nullptr);
      if (grown != buf) moves++;
      for (size_t at = 0; at < len; at += step) kept = kept && grown[at] == char(at / step);
      buf = grown;
      memset(buf + len, int(char(len / step)), step);
    }
    CHECK(kept);
    CHECK(moves <= 64);
    if (moves > 64) fprintf(stderr, "a growing buffer moved %d times\n", moves);
    free(buf);
  }

  // Frees on other threads than the allocating one, contents checked.
  {
    constexpr int n = 50000;
    std::vector<int*> objs(n);
    for (int i = 0; i < n; i++) {
      objs[i] = new int[1 + i % 50];
      objs[i][0] = i;
    }
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++) {
      ts.emplace_back([&, t] {
        for (int i = t; i < n; i += 4) {
          if (objs[i][0] != i) bad++;
          delete[] objs[i];
        }
      });
    }
    for (auto& t : ts) t.join();
    CHECK(bad == 0);
  }
  // Many short-lived threads: each returns its cache at exit.
  for (int round = 0; round < 200; round++) {
    std::thread([] {
      std::vector<std::vector<char>> keep;
      for (int i = 0; i < 100; i++) keep.emplace_back(16 + i * 10);
    }).join();
  }
  // fork while other threads allocate: the child's heap is consistent.
  {
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; t++) {
      ts.emplace_back([&] {
        while (!stop) free(malloc(64 + rand() % 5000));
      });
    }
    for (int i = 0; i < 20; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        std::vector<void*> got;
        for (int k = 0; k < 1000; k++) got.push_back(malloc(k * 7 + 1));
        for (void* g : got) free(g);
        std::thread([] { free(malloc(100)); }).join();
        _exit(0);
      }
      int st = 0;
      waitpid(pid, &st, 0);
      CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop = true;
    for (auto& t : ts) t.join();
  }
  if (failures == 0) printf("preload_check: ok\n");
  return failures == 0 ? 0 : 1;
}
