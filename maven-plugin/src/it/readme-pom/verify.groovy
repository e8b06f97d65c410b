// README's POM, spec and Main built and ran on this Maven: generated, compiled, trained, predicted.
def log = new File(basedir, 'build.log').text
assert new File(basedir, 'target/generated-sources/cnn/demo/nets/Tiny.java').isFile() : "no generated class"
assert new File(basedir, 'target/classes/demo/Main.class').isFile() : "Main was not compiled"
assert log.contains('cnnc: 1 spec(s): 1 class(es) written, 0 unchanged, 0 removed')
assert log =~ /Tiny: \d+ parameters, loss [0-9.]+, output \[64, 10(, 1, 1)?\]/ : "Main did not run to the end"
assert !log.contains('Source option 5 is no longer supported')
assert log.contains('BUILD SUCCESS')
return true
