set -euo pipefail
echo mine > victim
ln -s victim g.dot
