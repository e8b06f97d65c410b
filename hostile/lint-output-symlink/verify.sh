set -euo pipefail
[ "$(cat victim)" = mine ]
[ -L report.sarif ]
