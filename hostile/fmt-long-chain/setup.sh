{ printf 'model M {\n    input [3, 8, 8]\n    relu'; for i in $(seq 2 40000); do printf ' -> relu'; done; printf '\n}\n'; } > chain.cnn
