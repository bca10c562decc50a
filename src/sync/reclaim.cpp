// reclaim: deferred freeing for lock-free readers (the read side is inline in
// include/gort/sync/map.hpp, namespace gort::rt, "Memory reclamation").
//
// A process-wide, SRCU-style domain with sharded reader counters and two phases:
//
//   reader:  c = &rcu_shards[shard of this thread].n[rcu_phase & 1]
//            c->fetch_add(1, seq_cst) ... reads ... c->fetch_sub(1, release)
//            (the reader keeps c, so a goroutine that moves to another thread in between
//            still decrements the counter it incremented)
//   writer:  unlink the object (seq_cst store / CAS), rcu_retire(it)
//   reclaim: take the retired list, then a grace period:
//              p = phase; wait until every counter [*][!p] is 0; phase = !p;
//              wait until every counter [*][p] is 0
//            then free what was taken.
//
// Why it is safe: a reader that can still hold an unlinked object loaded its pointer before
// the unlinking store in the seq_cst order, so its increment precedes that store, which
// precedes the reclaimer's counter loads: every counter load of the grace period sees the
// reader counted until it decrements (the counter of one shard and phase counts exactly the
// readers inside that used it). A grace period loads both phases of every shard, so it waits
// for every such reader. A reader that increments after the reclaimer looked at its counter
// loads its pointers after the unlink, so it cannot see the object. The phase flip is for
// progress only: new readers go to the new phase, so the old one drains even under a
// constant stream of reads; the first wait drains readers that read the phase just before
// the previous flip and incremented the old counter late.
//
// Grace periods run one at a time (gp_busy), never while the caller is inside a read section
// (it would wait for itself) and never under a map's mutex (the maps call rcu_poll after
// unlocking). Waiting spins briefly, then yields (gort::yield: a goroutine gives up its P,
// so a reader on the same P can finish; a plain thread yields the thread). Retired objects
// are freed after gp_busy is released, so a destructor run by the free may itself use the
// domain (a map of maps).
#include <atomic>
#include <cstdint>

#include "gort/runtime.hpp"
#include "gort/sync/map.hpp"

namespace gort::rt {

constinit rcu_shard rcu_shards[kRcuShards];
constinit rcu_phase_word rcu_phase;
constinit std::atomic<int64_t> rcu_pending{0};

namespace {

std::atomic<uint32_t> next_shard{0};
alignas(64) std::atomic<retired*> retired_head{nullptr};
alignas(64) std::atomic<bool> gp_busy{false};

void backoff(int& spins) {
  if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    gort::yield();
  }
}

void wait_drain(uint32_t ph) {
  for (auto& s : rcu_shards) {
    int spins = 0;
    while (s.n[ph].load(std::memory_order_seq_cst) != 0) backoff(spins);
  }
}

// One grace period; gp_busy is held.
void grace_period() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint32_t p = rcu_phase.v.load(std::memory_order_relaxed) & 1;
  wait_drain(p ^ 1);
  rcu_phase.v.store(p ^ 1, std::memory_order_seq_cst);
  wait_drain(p);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void acquire_gp() {
  int spins = 0;
  while (gp_busy.exchange(true, std::memory_order_acquire)) backoff(spins);
}

void release_gp() { gp_busy.store(false, std::memory_order_release); }

// Frees a list taken from retired_head (gp_busy released, a grace period done).
void free_list(retired* r) {
  while (r != nullptr) {
    retired* next = r->next;
    r->free(r);
    r = next;
  }
}

retired* take_all() {
  retired* list = retired_head.exchange(nullptr, std::memory_order_acq_rel);
  int64_t n = 0;
  for (retired* r = list; r != nullptr; r = r->next) n++;
  rcu_pending.fetch_sub(n, std::memory_order_relaxed);
  return list;
}

}  // namespace

int rcu_assign_shard() noexcept {
  int s = int(next_shard.fetch_add(1, std::memory_order_relaxed) % kRcuShards);
  rcu_my_shard = s;
  return s;
}

void rcu_retire(retired* r) noexcept {
  retired* head = retired_head.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!retired_head.compare_exchange_weak(head, r, std::memory_order_release,
                                               std::memory_order_relaxed));
  rcu_pending.fetch_add(1, std::memory_order_relaxed);
}

void rcu_reclaim() noexcept {
  if (gp_busy.exchange(true, std::memory_order_acquire)) return;  // someone else is at it
  retired* list = take_all();
  if (list != nullptr) grace_period();
  release_gp();
  free_list(list);
}

void rcu_barrier() noexcept {
  acquire_gp();
  retired* list = take_all();
  grace_period();
  release_gp();
  free_list(list);
}

}  // namespace gort::rt
