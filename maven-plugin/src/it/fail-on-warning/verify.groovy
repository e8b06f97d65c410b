// Build 1 reports the warning once, with its help under it (the command line's BuildContext must
// not log it a second time); build 2 is up to date and says a warning exists; build 3 sets
// failOnWarning and fails on the same, unchanged inputs; build 4 fails again (a failed build is
// never "up to date"); build 5 is the help goal.
def log = new File(basedir, 'build.log').text
def spec = new File(basedir, 'src/main/cnn/m.cnn').canonicalPath
def headline = "[WARNING] ${spec}:5:16: warning: "
assert log.count(headline) == 3 : "the warning is printed once per compiling build (1, 3 and 4): ${log.count(headline)}"
assert log =~ /(?m)^\[WARNING\] .*\[DENSE_ON_MAP\]\n\[WARNING\]   help: /
assert !log.contains("${spec}: [5:16]") : "the BuildContext's own copy of the message"
assert log.contains('cnnc: up to date, 1 spec(s), nothing regenerated (1 warning(s)')
assert log.contains('cnnc: 0 error(s) and 1 warning(s)')
assert log.contains('BUILD FAILURE')
assert log.contains('cnnc:generate') && log.contains('cnnc:help')
return true
