echo precious > victim.txt
ln -s victim.txt W.npz.tmp
