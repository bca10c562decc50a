// syscall: the blocking-call bracket behind gort::syscall and gort::blocking. See
// syscall.cpp for the protocol.
#pragma once

namespace gort::rt {

// Returns false (and does nothing) when the caller is not a goroutine holding a P.
bool entersyscall(bool block);
// Only after entersyscall returned true.
void exitsyscall();

}  // namespace gort::rt
