#!/bin/bash
set -euo pipefail
grep -q 'x = b.op(s.next(), "conv", x, "out", 10, "kernel", 3)' out/W.java
grep -q 'x = b.op(s.next(), "conv", x, "out", 4, "kernel", 3)' out/W.java
! grep -q '100000 \* 100000\|3000000000' out/W.java
