// symbolize: see symbolize.hpp.
#include "sched/symbolize.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mutex>
#include <new>

#if defined(GORT_HAVE_LIBDW)
#include <elfutils/libdwfl.h>
#endif

namespace gort::rt {
namespace {

std::string demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status == 0 && d != nullptr) {
    std::string s = d;
    free(d);
    return s;
  }
  return name;
}

std::string hex_offset(uintptr_t off) {
  char buf[32];
  snprintf(buf, sizeof buf, " +0x%lx", (unsigned long)off);
  return buf;
}

#if defined(GORT_HAVE_LIBDW)
// dwfl_mu guards the handle, made at the first lookup. A forked child's copy of the lock may
// be held by a thread that did not come along, and the handle half-updated by it, so the
// child starts afresh: a new lock and no handle (the old one leaks).
std::mutex dwfl_mu;
Dwfl* dwfl = nullptr;
bool dwfl_made = false;  // a handle that could not be made is not tried again

void forget_handle_in_child() {
  new (&dwfl_mu) std::mutex;
  dwfl = nullptr;
  dwfl_made = false;
}

Dwfl* dwfl_handle() {  // dwfl_mu held
  if (dwfl_made) return dwfl;
  dwfl_made = true;
  [[maybe_unused]] static const bool child_handler =
      (pthread_atfork(nullptr, nullptr, forget_handle_in_child), true);
  static char* debuginfo_path = nullptr;
  static const Dwfl_Callbacks cb = {dwfl_linux_proc_find_elf, dwfl_standard_find_debuginfo, nullptr,
                                    &debuginfo_path};
  dwfl = dwfl_begin(&cb);
  if (dwfl == nullptr) return nullptr;
  dwfl_report_begin(dwfl);
  dwfl_linux_proc_report(dwfl, getpid());
  dwfl_report_end(dwfl, nullptr, nullptr);
  return dwfl;
}
#endif

}  // namespace

symbol symbolize(uintptr_t pc) {
  symbol s{"?", "?"};
  uintptr_t addr = pc - 1;
#if defined(GORT_HAVE_LIBDW)
  {
    std::lock_guard<std::mutex> lk(dwfl_mu);
    if (Dwfl* d = dwfl_handle()) {
      if (Dwfl_Module* mod = dwfl_addrmodule(d, addr)) {
        GElf_Sym sym;
        GElf_Off off = 0;
        const char* name = dwfl_module_addrinfo(mod, addr, &off, &sym, nullptr, nullptr, nullptr);
        if (name != nullptr) s.function = demangle(name);
        if (Dwfl_Line* line = dwfl_module_getsrc(mod, addr)) {
          int lineno = 0;
          const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
          if (file != nullptr) {
            s.location = std::string(file) + ":" + std::to_string(lineno) + hex_offset(off + 1);
            return s;
          }
        }
        const char* modname = dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr,
                                               nullptr, nullptr);
        Dwarf_Addr base = 0;
        dwfl_module_info(mod, nullptr, &base, nullptr, nullptr, nullptr, nullptr, nullptr);
        s.location = std::string(modname != nullptr ? modname : "?") + hex_offset(pc - base);
        if (name != nullptr) return s;
      }
    }
  }
#endif
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(addr), &info) != 0) {
    if (info.dli_sname != nullptr) s.function = demangle(info.dli_sname);
    s.location = std::string(info.dli_fname != nullptr ? info.dli_fname : "?") +
                 hex_offset(pc - reinterpret_cast<uintptr_t>(info.dli_fbase));
  }
  return s;
}

}  // namespace gort::rt
