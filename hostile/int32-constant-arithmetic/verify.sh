#!/bin/bash
set -euo pipefail
grep -q 'x = b.conv(s.next(), x, 10, size(3)' out/W.java
grep -q 'x = b.conv(s.next(), x, 4, size(3)' out/W.java
! grep -q '100000 \* 100000\|3000000000' out/W.java
