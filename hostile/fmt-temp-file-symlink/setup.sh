set -euo pipefail
echo mine > victim
ln -s victim spec.cnn.cnnc-fmt.tmp
