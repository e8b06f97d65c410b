# the 4,000 groups are one block, called by one repeat
grep -q '^block MBlock() {$' m.cnn && grep -q 'repeat 4000 { MBlock }' m.cnn && test "$(wc -l < m.cnn)" -lt 30
