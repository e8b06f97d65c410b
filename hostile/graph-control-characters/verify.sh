set -euo pipefail
python3 -c "import xml.dom.minidom; xml.dom.minidom.parse('g.svg')"
grep -q 'b: B(&quot;x\\u001b]0;t\\u0007 \\u0001 &lt;y&gt; &amp; #quot;&quot;)' g.svg
