#!/usr/bin/env bash
# The license header convention, in one place: every Java and ANTLR source (*.java, *.g4 under a
# src/ folder, resources and build output excepted) starts with the line
#     // SPDX-License-Identifier: Apache-2.0
#   tools/license-headers.sh [ROOT]           adds the line to every source of ROOT (default: the
#                                             repository) that lacks it, and names them
#   tools/license-headers.sh --check [ROOT]   names the sources that lack it; exit 1 if any
# The build runs --check (compiler's LicenseHeadersTest), so a new file without it fails the tests.
set -euo pipefail
header='// SPDX-License-Identifier: Apache-2.0'
check=no
if [ "${1:-}" = --check ]; then check=yes; shift; fi
root=${1:-$(dirname "$0")/..}

missing=0
while IFS= read -r -d '' f; do
  first=$(head -n 1 -- "$f")
  [ "$first" = "$header" ] && continue
  missing=$((missing + 1))
  if [ $check = yes ]; then
    echo "no license header: ${f#"$root"/}"
  else
    tmp=$(mktemp "$f.XXXXXX")
    { printf '%s\n' "$header"; cat -- "$f"; } >"$tmp"
    chmod --reference="$f" "$tmp"
    mv -- "$tmp" "$f"
    echo "added: ${f#"$root"/}"
  fi
done < <(find "$root" \( -name target -o -name .git -o -name node_modules -o -name resources \) -prune \
           -o -type f -path '*/src/*' \( -name '*.java' -o -name '*.g4' \) -print0 | sort -z)

if [ $check = yes ] && [ $missing -gt 0 ]; then
  echo "$missing sources lack the header '$header': run tools/license-headers.sh" >&2
  exit 1
fi
