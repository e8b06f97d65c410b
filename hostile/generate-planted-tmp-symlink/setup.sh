#!/bin/bash
# a symbolic link planted where cnnc used to write its temporary file (out/Net.java.tmp)
set -euo pipefail
printf 'precious\n' > victim.txt
mkdir -p out
ln -s ../victim.txt out/Net.java.tmp
