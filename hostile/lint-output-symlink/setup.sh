set -euo pipefail
echo mine > victim
ln -s victim report.sarif
