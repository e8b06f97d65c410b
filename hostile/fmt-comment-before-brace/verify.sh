set -euo pipefail
[ "$(head -2 spec.cnn)" = "$(printf 'model M // why\n{')" ]
! grep -q 'why {' spec.cnn
