# map_fuzz: the map's differential fuzz target (tests/fuzz/map_fuzz.cpp). Always built as the
# ctest `fuzz.map_fuzz` (replays tests/fuzz/map_fuzz_corpus/* and fixed-seed inputs);
# with clang and -DGORT_FUZZ=ON also as the libFuzzer binary `map_fuzzer`:
#   cmake -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DGORT_FUZZ=ON
#   cmake --build build/fuzz --target map_fuzzer && build/fuzz/tests/map_fuzzer tests/fuzz/map_fuzz_corpus
option(GORT_FUZZ "Build libFuzzer targets (clang only)" OFF)

add_executable(map_fuzz_replay ${CMAKE_CURRENT_LIST_DIR}/map_fuzz.cpp ${CMAKE_CURRENT_LIST_DIR}/map_fuzz_main.cpp)
target_link_libraries(map_fuzz_replay PRIVATE gort::gort)
target_compile_options(map_fuzz_replay PRIVATE ${GORT_WARNINGS})
file(GLOB map_fuzz_corpus CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/map_fuzz_corpus/*)
add_test(NAME fuzz.map_fuzz COMMAND map_fuzz_replay ${map_fuzz_corpus})
set_tests_properties(fuzz.map_fuzz PROPERTIES TIMEOUT 300 LABELS "containers;fuzz")

if(GORT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "GORT_FUZZ needs clang (libFuzzer)")
  endif()
  add_executable(map_fuzzer ${CMAKE_CURRENT_LIST_DIR}/map_fuzz.cpp)
  target_link_libraries(map_fuzzer PRIVATE gort::gort)
  target_compile_options(map_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined ${GORT_WARNINGS})
  target_link_options(map_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
endif()
