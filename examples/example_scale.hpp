// example_scale.hpp: the one helper the examples share.
//
// scaled(d) is d times the CANAL_EXAMPLE_SCALE environment variable (default 1.0), so the
// example tests can run every program at a fraction of its real durations.
#pragma once

#include <chrono>
#include <cstdlib>

namespace example {

inline std::chrono::nanoseconds scaled(std::chrono::nanoseconds d) {
  static const double factor = [] {
    const char* s = std::getenv("CANAL_EXAMPLE_SCALE");
    const double f = s ? std::strtod(s, nullptr) : 1.0;
    return f > 0 ? f : 1.0;
  }();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d * factor);
}

}  // namespace example
