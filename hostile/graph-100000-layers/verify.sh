tail -c 3 deep.dot | grep -q '}'
