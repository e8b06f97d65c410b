def log = new File(basedir, 'build.log').text
assert log.contains('cnnc: 2 spec(s): 2 file(s) written, 0 unchanged, 0 removed')
// (A.java is rewritten only because its header names the other source directory)
assert log =~ /cnnc: 1 spec\(s\): \d file\(s\) written, \d unchanged, 1 removed/ : "the deleted spec's class is removed"
def out = new File(basedir, 'target/generated-sources/cnn/demo')
assert new File(out, 'A.java').isFile()
assert !new File(out, 'B.java').exists()
return true
