#!/bin/bash
set -euo pipefail
grep -q '@java.lang.Override' out/p/Net.java
grep -q 'public java.lang.String name()' out/p/Net.java
! grep -q '@Override' out/p/Net.java
! grep -q '@Override' out/p/String.java
