set -euo pipefail
[ "$(stat -c %a spec.cnn)" = 600 ]
grep -q '^    conv(8, 3)$' spec.cnn
