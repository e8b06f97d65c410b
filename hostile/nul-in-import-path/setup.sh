printf 'import "a\0b.cnn"\n\nmodel M {\n    input [3, 8, 8]\n    relu\n}\n' > spec.cnn
