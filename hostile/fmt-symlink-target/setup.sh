set -euo pipefail
cp real.cnn before.cnn
ln -s real.cnn link.cnn
