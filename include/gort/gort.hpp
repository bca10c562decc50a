// gort/gort.hpp — the whole public API: goroutines, channels and select, defer/panic, time,
// sync, debug.
//
//   #include <gort/gort.hpp>
//   using namespace std::chrono_literals;
//   int main() {
//     return gort::run([] {
//       gort::go([] { std::puts("hello from a goroutine"); });
//       gort::time::sleep(10ms);
//     });
//   }
#pragma once
#include "gort/bytes.hpp"
#include "gort/chan.hpp"
#include "gort/context.hpp"
#include "gort/debug.hpp"
#include "gort/defer.hpp"
#include "gort/error.hpp"
#include "gort/errors.hpp"
#include "gort/fmt.hpp"
#include "gort/io.hpp"
#include "gort/map.hpp"
#include "gort/mem.hpp"
#include "gort/net.hpp"
#include "gort/os.hpp"
#include "gort/runtime.hpp"
#include "gort/select.hpp"
#include "gort/slice.hpp"
#include "gort/string.hpp"
#include "gort/strings.hpp"
#include "gort/sync.hpp"
#include "gort/time.hpp"
#include "gort/time_chan.hpp"
