"""Default compiler options for canal's own targets.

No -std here: the language level comes from .bazelrc (--cxxopt=-std=c++20),
so consumers control it the same way. No -Werror: warnings must never break
a consumer's build with a newer compiler.
"""

CANAL_DEFAULT_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Wnon-virtual-dtor",
    "-Woverloaded-virtual",
    "-Wimplicit-fallthrough",
]

# Test code: doctest's macros and fixtures shadow names by design.
CANAL_TEST_COPTS = CANAL_DEFAULT_COPTS + [
    "-Wno-shadow",
]
