set -euo pipefail
grep -q 'found string &quot;a\\u001b\\u0001\\u0000b&quot;' report.xml
! grep -q '&#27;' report.xml
python3 -c "import xml.dom.minidom, sys; xml.dom.minidom.parse('report.xml')"
