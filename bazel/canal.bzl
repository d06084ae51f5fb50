"""Thin macros for canal's own targets (used inside the canal repository only).

    load("//bazel:canal.bzl", "canal_cc_library", "canal_cc_test", "canal_cc_binary")

canal_cc_library builds //runtime and //channels, canal_cc_binary the examples
and benchmarks, canal_cc_test every doctest suite: all with canal's warnings
(//bazel:copts.bzl) and -pthread.

canal_cc_test links doctest's main, so a test file only includes
"doctest/doctest.h" (quotes: works with Debian's doctest-dev and the BCR
module) and "tests/test_util.hpp", and defines TEST_CASEs.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("//bazel:copts.bzl", "CANAL_DEFAULT_COPTS", "CANAL_TEST_COPTS")

_PTHREAD = ["-pthread"]

def canal_cc_library(name, copts = [], linkopts = [], **kwargs):
    """cc_library with canal's warnings and -pthread."""
    cc_library(
        name = name,
        copts = CANAL_DEFAULT_COPTS + copts,
        linkopts = _PTHREAD + linkopts,
        **kwargs
    )

def canal_cc_binary(name, copts = [], linkopts = [], deps = [], **kwargs):
    """cc_binary linked against //:canal with canal's warnings and -pthread."""
    all_deps = list(deps)
    if "//:canal" not in all_deps:
        all_deps.append("//:canal")
    cc_binary(
        name = name,
        copts = CANAL_DEFAULT_COPTS + copts,
        linkopts = _PTHREAD + linkopts,
        deps = all_deps,
        **kwargs
    )

def canal_cc_test(
        name,
        srcs,
        deps = [],
        size = "medium",
        tags = [],
        timeout = None,
        copts = [],
        linkopts = [],
        **kwargs):
    """A doctest-based cc_test linked against //:canal and //tests:test_util.

    Args:
      name: test name.
      srcs: test sources.
      deps: extra deps (//:canal, //tests:test_util and doctest are added).
      size: Bazel test size (default "medium").
      tags: e.g. ["no_sanitizer"] to skip the ASan/TSan tiers of .ci/run,
        ["benchmark"] for slow benchmarks, ["manual"] to skip //... .
      timeout: optional Bazel test timeout ("short", "moderate", ...).
      copts: extra compiler options.
      linkopts: extra linker options.
      **kwargs: passed to cc_test (data, env, args, shard_count, ...).
    """
    all_deps = list(deps)
    for d in ["//:canal", "//tests:test_util", "@doctest//doctest", "@doctest//doctest:main"]:
        if d not in all_deps:
            all_deps.append(d)
    extra = {}
    if timeout != None:
        extra["timeout"] = timeout
    cc_test(
        name = name,
        srcs = srcs,
        deps = all_deps,
        size = size,
        tags = tags,
        copts = CANAL_TEST_COPTS + copts,
        linkopts = _PTHREAD + linkopts,
        **dict(kwargs, **extra)
    )
