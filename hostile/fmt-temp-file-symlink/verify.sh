set -euo pipefail
[ "$(cat victim)" = mine ]
grep -q '^    conv(8, 3)$' spec.cnn
