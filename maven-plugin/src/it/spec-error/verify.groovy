// A mistake in a spec fails the build, with its file, line and column in the log.
def log = new File(basedir, 'build.log').text
def bad = new File(basedir, 'src/main/cnn/bad.cnn').canonicalPath
assert log.contains("[ERROR] ${bad}:4:5: error: unknown op or block `convv` [UNKNOWN_NAME]") : "no located error"
assert log.contains('cnnc: 1 error(s) and 0 warning(s)')
assert log.contains('BUILD FAILURE')
assert !new File(basedir, 'target/generated-sources/cnn').exists() : "nothing is generated from a broken spec"
return true
