// map_fuzz_main: replays map_fuzz's target without libFuzzer — every file named on the
// command line (the checked-in corpus), then fixed-seed pseudo-random inputs — so the
// differential fuzz test also runs as an ordinary ctest with any compiler.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    std::ifstream f(argv[i], std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "map_fuzz: cannot read %s\n", argv[i]);
      return 1;
    }
    std::vector<uint8_t> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    files++;
  }
  std::mt19937_64 rng(20260101);
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  const int inputs = 800;  // sanitizers make each input several times slower
#else
  const int inputs = 3000;
#endif
  for (int i = 0; i < inputs; i++) {
    std::vector<uint8_t> buf(16 + rng() % 2000);
    for (auto& b : buf) b = uint8_t(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("map_fuzz: %d corpus files and %d random inputs replayed, no difference\n", files, inputs);
  return 0;
}
