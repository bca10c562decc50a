// gort/io.hpp — the sentinel errors of Go's package io that the net and os layers return.
//
//   auto [n, err] = conn.read(buf);
//   if (err == gort::io::eof) { /* the peer closed its side: end of stream */ }
//
// io::eof is returned bare (never wrapped), as in Go, so `==` is the idiomatic test.
#pragma once
#include "gort/error.hpp"

namespace gort::io {

// Go: io.EOF — "EOF": no more input is available (a graceful end of stream).
extern const error eof;
// Go: io.ErrUnexpectedEOF — "unexpected EOF": EOF in the middle of a fixed-size read.
extern const error err_unexpected_eof;
// Go: io.ErrShortWrite — "short write".
extern const error err_short_write;

}  // namespace gort::io
