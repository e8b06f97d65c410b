{ printf 'model M {\n    input [3, 8, 8]\n'; for i in $(seq 1 100000); do printf '    relu\n'; done; printf '}\n'; } > deep.cnn
