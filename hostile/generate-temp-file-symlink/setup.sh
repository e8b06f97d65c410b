set -euo pipefail
echo mine > victim
mkdir -p out/p
ln -s ../../victim out/p/M.java.tmp
