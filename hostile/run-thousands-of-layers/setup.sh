{ echo 'model Deep {'; echo '    input [1, 1, 1]'; for i in $(seq 2600); do echo '    conv(1, 1)'; done; echo '    flatten'; echo '    dense(2)'; echo '}'; } > spec.cnn
