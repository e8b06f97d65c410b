// A spec that imports blocks from another file, and a spec under src/test/cnn as a test source.
assert new File(basedir, 'target/generated-sources/cnn/demo/main/Small.java').isFile()
assert new File(basedir, 'target/generated-test-sources/cnn/demo/testnets/Tiny.java').isFile()
assert new File(basedir, 'target/test-classes/demo/testnets/Tiny.class').isFile() : "test specs compile as test sources"
assert !new File(basedir, 'target/classes/demo/testnets').exists() : "test specs stay out of the main classes"
def log = new File(basedir, 'build.log').text
assert log.contains('imports and test sources ok')
assert log =~ /Tests run: 1, Failures: 0, Errors: 0, Skipped: 0/
return true
