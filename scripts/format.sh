#!/usr/bin/env bash
# Formats the C++ sources with clang-format-14 and the repository's
# .clang-format: every *.cpp, *.hpp, *.h and *.cc file tracked by git, except
# third-party code (none yet; add its folder to THIRD_PARTY below).
#
#   scripts/format.sh           reformat the files in place
#   scripts/format.sh --check   change nothing: clang-format-14 --dry-run -Werror
#                               on every file; exit status 1 if any file is not
#                               formatted (its first differences are printed)
#   scripts/format.sh --help    this text
#
# scripts/test.sh runs --check as its own step ("format" in the totals).
# CLANG_FORMAT names another binary (default clang-format-14: other versions
# format some constructs differently).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
THIRD_PARTY='^(third_party|external|vendor)/'

check=0
case "${1:-}" in
  -h|--help) usage_from_header "$0"; exit 0 ;;
  --check) check=1 ;;
  "") ;;
  *) echo "format.sh: unknown argument: $1" >&2; usage_from_header "$0" >&2; exit 2 ;;
esac

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "format.sh: $CLANG_FORMAT not found (apt-get install clang-format-14; scripts/test.sh installs it)" >&2
  exit 2
fi

cd "$ROOT" || exit 2
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | grep -vE "$THIRD_PARTY" || true)
if [ ${#files[@]} -eq 0 ]; then
  echo "format.sh: no C++ files tracked by git in $ROOT" >&2
  exit 2
fi

if [ "$check" -eq 0 ]; then
  "$CLANG_FORMAT" --style=file -i "${files[@]}"
  echo "format: ${#files[@]} files formatted in place with $CLANG_FORMAT"
  exit 0
fi

# --check: the diagnostics go to stderr (the first 60 lines); the last line,
# on stdout, is the summary scripts/lib.sh (format_suite) puts in the totals.
out=$("$CLANG_FORMAT" --style=file --dry-run -Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
bad=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: error: ' <<<"$out" | cut -d: -f1 | sort -u || true)
if [ "$rc" -eq 0 ] && [ -z "$bad" ]; then
  echo "format: ${#files[@]} files checked, all formatted"
  exit 0
fi
lines=$(wc -l <<<"$out")
{
  head -n 60 <<<"$out"
  [ "$lines" -gt 60 ] && echo "... $((lines - 60)) more lines"
  echo "==> not formatted (scripts/format.sh reformats them):"
  sed 's/^/    /' <<<"$bad"
} >&2
if [ -z "$bad" ]; then  # clang-format failed without a formatting diagnostic
  echo "format: $CLANG_FORMAT failed (exit $rc)"
else
  echo "format: ${#files[@]} files checked, $(grep -c . <<<"$bad") not formatted ($(grep -c ': error: ' <<<"$out") places)"
fi
exit 1
