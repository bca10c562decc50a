# libgort_malloc.so under real programs (LD_PRELOAD): our own checker, python3 running a
# workload, and `git status` on this repository. Included from tests/CMakeLists.txt.
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
