{ printf '// '; head -c 5000 /dev/zero | tr '\0' 'x'; printf '\n'; } > huge.cnn
