#!/usr/bin/env bash
# check_dual_setup.sh: canal builds two ways, and both must name the same
# external repositories:
#   * WORKSPACE mode (Bazel 4.x, offline, Debian): canal_dependencies() in
#     bazel/deps.bzl creates system_library repositories;
#   * bzlmod (Bazel 7+): MODULE.bazel's bazel_dep()s come from the BCR.
# Checks:
#   1. every bazel_dep of MODULE.bazel (but rules_cc/platforms, which Bazel 4
#      provides itself or through the stand-ins) is created by
#      canal_dependencies(), and vice versa;
#   2. every @repo referenced by a BUILD/BUILD.bazel/.bzl file of the project
#      (not bazel_tools, local_config_*, the stand-ins, canal itself, nor the
#      separate tests/consumer workspace) is a bazel_dep and is created by
#      canal_dependencies().
#
# Usage: bazel/check_dual_setup.sh [REPO_ROOT]
#        bazel test //bazel:check_dual_setup_test
set -euo pipefail

find_root() {
  if [[ $# -gt 0 && -n "$1" ]]; then
    (cd "$1" && pwd)
    return
  fi
  # Under `bazel test`: follow the runfiles symlink of //:MODULE.bazel back to
  # the source tree.
  if [[ -n "${TEST_SRCDIR:-}" ]]; then
    local f
    for f in "$TEST_SRCDIR/${TEST_WORKSPACE:-canal}/MODULE.bazel" "$TEST_SRCDIR"/*/MODULE.bazel; do
      if [[ -e "$f" ]]; then
        dirname "$(readlink -f "$f")"
        return
      fi
    done
  fi
  (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

ROOT="$(find_root "${1:-}")"
MODULE="$ROOT/MODULE.bazel"
DEPS="$ROOT/bazel/deps.bzl"
for f in "$MODULE" "$DEPS" "$ROOT/WORKSPACE" "$ROOT/WORKSPACE.bzlmod"; do
  [[ -f "$f" ]] || { echo "check_dual_setup: missing $f" >&2; exit 1; }
done

# Repos that are provided by Bazel itself, by the Bazel-4 stand-ins, or that
# are canal itself: never need a matching system_library.
BUILTIN_RE='^(bazel_tools|local_config_[A-Za-z0-9_]*|local_jdk|remote_coverage_tools|rules_java|rules_cc|platforms|canal)$'

strip_comments() { sed -e 's/^[[:space:]]*#.*$//' "$@"; }

# 1. bazel_dep names (bazel_dep(...) may span lines).
module_deps="$(strip_comments "$MODULE" | tr '\n' ' ' |
  grep -o 'bazel_dep([^)]*)' |
  sed -n 's/.*name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' | sort -u)"

# 2. repositories created by canal_dependencies(): _maybe(RULE, name = "X", ...).
ws_all="$(strip_comments "$DEPS" | tr '\n' ' ' |
  grep -o '_maybe([[:space:]]*[A-Za-z_]*,[[:space:]]*name[[:space:]]*=[[:space:]]*"[^"]*"' |
  sed 's/.*"\([^"]*\)"$/\1/' | sort -u)"
ws_system="$(strip_comments "$DEPS" | tr '\n' ' ' |
  grep -o '_maybe([[:space:]]*system_library,[[:space:]]*name[[:space:]]*=[[:space:]]*"[^"]*"' |
  sed 's/.*"\([^"]*\)"$/\1/' | sort -u)"

# 3. @repos referenced by the project's BUILD and .bzl files.
mapfile -t build_files < <(cd "$ROOT" && find . \
  \( -path ./.git -o -path './bazel-*' -o -path ./tests/consumer \) -prune -o \
  -type f \( -name BUILD -o -name BUILD.bazel -o -name '*.bzl' \) -print | sort)
referenced=""
for f in "${build_files[@]}"; do
  refs="$(strip_comments "$ROOT/$f" |
    grep -o '@@\{0,1\}[A-Za-z][A-Za-z0-9_.+~-]*\(//\|"\)' |
    sed -e 's/^@@\{0,1\}//' -e 's,//$,,' -e 's/"$//' | sort -u || true)"
  for r in $refs; do
    referenced+="$r $f"$'\n'
  done
done

errors=0
err() { echo "ERROR: $*" >&2; errors=$((errors + 1)); }

module_ext="$(grep -Ev "$BUILTIN_RE" <<<"$module_deps" || true)"
ws_ext="$(grep -Ev "$BUILTIN_RE" <<<"$ws_system" || true)"

echo "MODULE.bazel bazel_deps:          $(echo $module_deps)"
echo "canal_dependencies() repos:       $(echo $ws_all)"
echo "  of which system libraries:      $(echo $ws_system)"

for r in $module_ext; do
  grep -qxF "$r" <<<"$ws_system" ||
    err "bazel_dep '$r' (MODULE.bazel) has no system_library in bazel/deps.bzl canal_dependencies()"
done
for r in $ws_ext; do
  grep -qxF "$r" <<<"$module_deps" ||
    err "canal_dependencies() creates '$r' but MODULE.bazel has no bazel_dep(name = \"$r\")"
done
for r in rules_cc platforms; do
  grep -qxF "$r" <<<"$module_deps" || err "MODULE.bazel should bazel_dep on $r"
done

checked=""
while read -r r f; do
  [[ -z "$r" ]] && continue
  [[ "$r" =~ $BUILTIN_RE ]] && continue
  checked+="$r "
  grep -qxF "$r" <<<"$module_deps" ||
    err "$f references @$r, which is not a bazel_dep in MODULE.bazel"
  grep -qxF "$r" <<<"$ws_all" ||
    err "$f references @$r, which canal_dependencies() (bazel/deps.bzl) does not create"
done <<<"$referenced"

echo "@repos referenced by ${#build_files[@]} BUILD/.bzl files: $(tr ' ' '\n' <<<"$checked" | sort -u | xargs)"

if ((errors > 0)); then
  echo "check_dual_setup: $errors problem(s): WORKSPACE mode and bzlmod disagree" >&2
  exit 1
fi
echo "check_dual_setup: OK (MODULE.bazel and canal_dependencies() agree)"
