# Allocator tests beyond the GoogleTest binary (included from tests/CMakeLists.txt):
#  * the fuzz target run on its fixed corpus plus deterministic random programs (every
#    compiler and preset), and as a real libFuzzer binary when the compiler is Clang;
#  * libgort_malloc.so under real programs (LD_PRELOAD): our own checker, python3 running a
#    workload, and `git status` on this repository.
add_executable(malloc_fuzz ${PROJECT_SOURCE_DIR}/tests/fuzz/malloc_fuzz.cpp)
target_link_libraries(malloc_fuzz PRIVATE gort::gort)
target_include_directories(malloc_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(malloc_fuzz PRIVATE ${GORT_WARNINGS})
file(GLOB malloc_corpus CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/malloc/*)
add_test(NAME malloc.fuzz_corpus COMMAND malloc_fuzz ${malloc_corpus})
set_tests_properties(malloc.fuzz_corpus PROPERTIES LABELS malloc TIMEOUT 300
  PASS_REGULAR_EXPRESSION "malloc_fuzz: [0-9]+ corpus files, [0-9]+ random programs, ok")
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND NOT GORT_SANITIZE STREQUAL "thread")
  # libFuzzer: mkdir -p /tmp/corpus && build/clang/tests/malloc_fuzz_libfuzzer /tmp/corpus
  #   tests/fuzz/corpus/malloc -max_total_time=60   (new inputs go to the first directory)
  add_executable(malloc_fuzz_libfuzzer ${PROJECT_SOURCE_DIR}/tests/fuzz/malloc_fuzz.cpp)
  target_link_libraries(malloc_fuzz_libfuzzer PRIVATE gort::gort)
  target_include_directories(malloc_fuzz_libfuzzer PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_definitions(malloc_fuzz_libfuzzer PRIVATE GORT_LIBFUZZER=1)
  target_compile_options(malloc_fuzz_libfuzzer PRIVATE -fsanitize=fuzzer)
  target_link_options(malloc_fuzz_libfuzzer PRIVATE -fsanitize=fuzzer)
  # New inputs go to a directory in the build tree, never into the checked-in corpus.
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/malloc_fuzz_new)
  add_test(NAME malloc.libfuzzer_smoke
    COMMAND malloc_fuzz_libfuzzer -runs=2000 ${CMAKE_CURRENT_BINARY_DIR}/malloc_fuzz_new
            ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/malloc)
  set_tests_properties(malloc.libfuzzer_smoke PROPERTIES LABELS malloc TIMEOUT 300)
endif()

if(TARGET gort_malloc)
  add_executable(malloc_preload_check ${CMAKE_CURRENT_LIST_DIR}/preload_check.cpp)
  target_compile_options(malloc_preload_check PRIVATE ${GORT_WARNINGS} -fno-builtin)
  target_link_libraries(malloc_preload_check PRIVATE Threads::Threads)
  set(preload "LD_PRELOAD=$<TARGET_FILE:gort_malloc>")
  add_test(NAME malloc.preload_check
    COMMAND ${CMAKE_COMMAND} -E env ${preload} $<TARGET_FILE:malloc_preload_check>)
  set_tests_properties(malloc.preload_check PROPERTIES LABELS malloc TIMEOUT 120
    PASS_REGULAR_EXPRESSION "preload_check: ok")
  find_program(PYTHON3 python3)
  if(PYTHON3)
    add_test(NAME malloc.preload_python
      COMMAND ${CMAKE_COMMAND} -E env ${preload} GORT_MALLOC_STATS=1 ${PYTHON3} -c
        "import json, threading; d = {str(i): [i] * (i % 50) for i in range(200000)}; s = json.dumps(d); assert json.loads(s) == d; ts = [threading.Thread(target=lambda: sorted(str(x) for x in range(100000))) for _ in range(4)]; [t.start() for t in ts]; [t.join() for t in ts]; print('python ok', len(s))")
    set_tests_properties(malloc.preload_python PROPERTIES LABELS malloc TIMEOUT 120
      PASS_REGULAR_EXPRESSION "python ok [0-9]+.*gort_malloc: mallocs=[1-9][0-9]*")
  endif()
  find_program(GIT_EXECUTABLE git)
  if(GIT_EXECUTABLE AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
    add_test(NAME malloc.preload_git_status
      COMMAND ${CMAKE_COMMAND} -E env ${preload} GORT_MALLOC_STATS=1 ${GIT_EXECUTABLE}
        -C ${PROJECT_SOURCE_DIR} status --short --branch)
    set_tests_properties(malloc.preload_git_status PROPERTIES LABELS malloc TIMEOUT 120
      PASS_REGULAR_EXPRESSION "gort_malloc: mallocs=[1-9]" FAIL_REGULAR_EXPRESSION "fatal error")
  endif()
endif()
