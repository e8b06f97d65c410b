set -euo pipefail
cp spec.cnn before.cnn
chmod 444 spec.cnn
