def log = new File(basedir, 'build.log').text
assert log.contains('cnnc: 1 spec(s): 1 file(s) written, 0 unchanged, 0 removed') : "the first build generates"
assert log.contains('cnnc: up to date, 1 spec(s), nothing regenerated') : "the second build regenerates nothing"
def incremental = new File(basedir, 'target/generated-sources/cnn/demo/nets/NiN.java')
def fresh = new File(basedir, 'target/fresh/demo/nets/NiN.java')
assert incremental.isFile() && fresh.isFile()
assert incremental.bytes == fresh.bytes : "clean and incremental builds give byte-identical sources"
return true
