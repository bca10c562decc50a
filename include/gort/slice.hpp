// gort/slice.hpp — Go's slices (placeholder: bounds errors only; the slice type follows).
#pragma once
#include <cstdint>

namespace gort::rt {
// Go: runtime.boundsErrorCode.
enum class bounds_code : uint8_t { index, slice_alen, slice_acap, slice_b, slice3_alen, slice3_acap, slice3_b, slice3_c };
// Throws gort::runtime_error with Go's text for a failed bounds check of x (against y).
[[noreturn]] void panic_bounds(bounds_code code, int64_t x, int64_t y);
}  // namespace gort::rt
