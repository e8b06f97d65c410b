{ echo 'model Deep {'; echo '    input [1, 1, 1]'; for i in $(seq 5000); do echo '    relu'; done; echo '    flatten'; echo '    dense(2)'; echo '}'; } > spec.cnn
