#!/bin/bash
set -euo pipefail
f=out/P.java
test -f "$f"
if grep -n '\*/' "$f" | grep -v -E '^[0-9]+: *\*/$'; then
  echo "a */ outside a comment's end: the comment was broken" >&2
  exit 1
fi
grep -q '(a\*&#47;class/Evil&#123;static&#123;System.exit(42);&#125;&#125;/\*&#47;lib.cnn:1)' "$f"
if grep -q "$(pwd)" "$f"; then
  echo "an absolute path in the generated source" >&2
  exit 1
fi
