def log = new File(basedir, 'build.log').text
assert log.contains('cnnc: skipped')
assert log.contains('BUILD SUCCESS')
assert !new File(basedir, 'target/generated-sources/cnn').exists()
return true
