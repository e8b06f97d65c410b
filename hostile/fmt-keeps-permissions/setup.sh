set -euo pipefail
chmod 600 spec.cnn
