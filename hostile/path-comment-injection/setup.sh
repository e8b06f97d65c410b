#!/bin/bash
# Directories whose names, joined, end the generated Javadoc: a*/class/Evil{static{...}}/*
set -euo pipefail
d='a*/class/Evil{static{System.exit(42);}}/*'
mkdir -p "$d"
printf 'block Two(c) {\n    conv(c, 3, padding = 1)\n    relu\n}\n' > "$d/lib.cnn"
printf 'import "a*/class/Evil{static{System.exit(42);}}/*/lib.cnn"\nmodel P {\n    input [3, 8, 8]\n    Two(4)\n}\n' > main.cnn
