# the link's target is untouched, and the weights are a regular file
[ "$(cat victim.txt)" = precious ] || { echo "victim.txt was overwritten"; exit 1; }
[ -f W.npz ] && [ ! -L W.npz ] || { echo "W.npz is not a regular file"; exit 1; }
