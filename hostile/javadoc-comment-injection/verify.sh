#!/bin/bash
# Every "*/" in the generated class closes a comment on its own line, or is inside the constructor's string literal.
set -euo pipefail
f=out/Inj.java
test -f "$f"
if grep -n '\*/' "$f" | grep -v -E '^[0-9]+: *\*/$' | grep -v -E '^[0-9]+: *this\("'; then
  echo "a */ outside a comment's end: the comment was broken" >&2
  exit 1
fi
grep -q 'tag = "\*&#47; class Math &#123; static' "$f"
! grep -q '\\u002a' "$f" || grep -q '&#92;u002a' "$f"
