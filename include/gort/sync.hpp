// gort/sync.hpp — synchronisation for goroutines (Go: package sync). Includes:
//
//   gort/sync/mutex.hpp       mutex, rw_mutex, locker         (sync.Mutex, RWMutex, Locker)
//   gort/sync/wait_group.hpp  wait_group                      (sync.WaitGroup)
//   gort/sync/once.hpp        once, once_func, once_value     (sync.Once, OnceFunc, OnceValue)
//   gort/sync/cond.hpp        cond                            (sync.Cond)
//   gort/sync/pool.hpp        pool<T>                         (sync.Pool)
//   gort/sync/map.hpp         map<K, V>                       (sync.Map)
//
// Every primitive parks a waiting goroutine (never its thread) on the runtime semaphore;
// called from a plain thread that is not a goroutine, it blocks that thread instead.
#pragma once
#include "gort/sync/cond.hpp"
#include "gort/sync/mutex.hpp"
#include "gort/sync/once.hpp"
#include "gort/sync/pool.hpp"
#include "gort/sync/wait_group.hpp"
