set -euo pipefail
[ -L link.cnn ]
cmp real.cnn before.cnn
