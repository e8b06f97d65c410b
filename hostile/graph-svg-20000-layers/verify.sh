tail -c 7 deep.svg | grep -q '</svg>'
