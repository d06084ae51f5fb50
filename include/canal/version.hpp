// canal/version.hpp: version macros and canal::version().
#pragma once

#define CANAL_VERSION_MAJOR 0
#define CANAL_VERSION_MINOR 1
#define CANAL_VERSION_PATCH 0

namespace canal {
// version() returns the version the library was built as ("0.1.0"); compare it with the
// CANAL_VERSION_* macros to catch a header/library mismatch.
const char* version() noexcept;
}  // namespace canal
