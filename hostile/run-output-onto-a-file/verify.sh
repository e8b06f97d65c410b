[ "$(cat out.txt)" = "keep me" ]
