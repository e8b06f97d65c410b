head -c 3100 /dev/zero > data_batch_1.bin
