// cond: sync.Cond over a notify_list (see src/sync/notify_list.hpp). The list is allocated
// on first use so that gort/sync/cond.hpp stays free of runtime internals.
#include "gort/sync/cond.hpp"

#include "sync/notify_list.hpp"

namespace gort::sync {

cond::~cond() { delete list_.load(std::memory_order_acquire); }

rt::notify_list* cond::list() {
  rt::notify_list* l = list_.load(std::memory_order_acquire);
  if (l != nullptr) return l;
  auto* fresh = new rt::notify_list;
  if (list_.compare_exchange_strong(l, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;  // another thread won; l holds its list
  return l;
}

void cond::wait() {
  rt::notify_list* l = list();
  uint32_t t = rt::notify_list_add(l);  // take the ticket while still holding the lock
  do_unlock_(lock_);
  rt::notify_list_wait(l, t);
  do_lock_(lock_);
}

void cond::signal() { rt::notify_list_notify_one(list()); }
void cond::broadcast() { rt::notify_list_notify_all(list()); }

}  // namespace gort::sync
