set -euo pipefail
[ "$(cat victim)" = mine ]
[ -L g.dot ]
