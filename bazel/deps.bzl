"""canal's WORKSPACE-mode dependencies.

Contract (do not break it): a consumer workspace needs only

    local_repository(name = "canal", path = "...")
    load("@canal//bazel:deps.bzl", "canal_dependencies")
    canal_dependencies()

and `build --cxxopt=-std=c++20` in its .bazelrc, then depends on
"@canal//:canal" and includes <canal/canal.hpp>.

canal_dependencies() defines, unless a repository of that name already
exists:
  * under Bazel 4.x (including Debian's bazel-bootstrap, which reports
    "no_version"): offline stand-ins for rules_cc, rules_java and
    remote_coverage_tools, which Bazel 4 would otherwise download;
  * the system dependencies, under their Bazel Central Registry names and
    labels, backed by Debian packages:
      @boost.context//:boost.context    libboost-context-dev
      @libuv//:libuv                    libuv1-dev
      @doctest//doctest:doctest         doctest-dev
      @doctest//doctest:main            doctest-dev

With bzlmod (Bazel 7+, MODULE.bazel) none of this runs: the same names come
from the BCR. bazel/check_dual_setup.sh keeps the two lists in sync.
"""

load(
    ":repositories.bzl",
    "BOOST_CONTEXT_BUILD",
    "DOCTEST_DUMMY_MAIN",
    "DOCTEST_PKG_BUILD",
    "DOCTEST_ROOT_BUILD",
    "LIBUV_BUILD",
    "offline_remote_coverage_tools",
    "offline_rules_cc",
    "offline_rules_java",
    "system_library",
)

def _needs_offline_standins():
    """True on Bazel 4.x, including Debian's build ("no_version" / "")."""
    version = getattr(native, "bazel_version", "")
    if version == None:
        version = ""
    return version == "" or version == "no_version" or version.startswith("4.")

def _maybe(repo_rule, name, **kwargs):
    if not native.existing_rule(name):
        repo_rule(name = name, **kwargs)

def canal_dependencies():
    """Defines every external repository canal needs (WORKSPACE mode)."""
    if _needs_offline_standins():
        _maybe(offline_rules_cc, name = "rules_cc")
        _maybe(offline_rules_java, name = "rules_java")
        _maybe(offline_remote_coverage_tools, name = "remote_coverage_tools")

    # System libraries. Keep the names in sync with the bazel_dep()s of
    # MODULE.bazel (bazel/check_dual_setup.sh verifies it).
    _maybe(
        system_library,
        name = "boost.context",
        debian_package = "libboost-context-dev",
        headers = ["boost/context/fiber.hpp", "boost/context/continuation.hpp"],
        libs = ["boost_context"],
        files = {"BUILD": BOOST_CONTEXT_BUILD},
    )
    _maybe(
        system_library,
        name = "libuv",
        debian_package = "libuv1-dev",
        headers = ["uv.h"],
        libs = ["uv"],
        header_files = {"include/uv.h": "uv.h"},
        header_dirs = {"include/uv": "uv"},
        files = {"BUILD": LIBUV_BUILD},
    )
    _maybe(
        system_library,
        name = "doctest",
        debian_package = "doctest-dev",
        headers = ["doctest/doctest.h"],
        header_dirs = {"doctest": "doctest"},
        files = {
            "BUILD": DOCTEST_ROOT_BUILD,
            "doctest/BUILD": DOCTEST_PKG_BUILD,
            "doctest/dummy-main.cc": DOCTEST_DUMMY_MAIN,
        },
    )
