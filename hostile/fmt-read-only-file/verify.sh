set -euo pipefail
cmp spec.cnn before.cnn
[ "$(stat -c %a spec.cnn)" = 444 ]
