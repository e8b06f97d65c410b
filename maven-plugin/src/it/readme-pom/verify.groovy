// README's POM, spec and Main built on this Maven; then README's own command runs the application.
def log = new File(basedir, 'build.log').text
assert !log.contains('Source option 5 is no longer supported')
assert log.contains('cnnc: 1 spec(s): 1 file(s) written, 0 unchanged, 0 removed')
assert log.contains('BUILD SUCCESS')
assert new File(basedir, 'target/generated-sources/cnn/demo/nets/Tiny.java').isFile() : "no generated class"
assert new File(basedir, 'target/classes/demo/Main.class').isFile() : "Main was not compiled"

def readme = new File(cnncRoot, 'README.md').text
def section = readme.substring(readme.indexOf('\n## The Maven plugin\n'))
section = section.substring(0, section.indexOf('\n## ', 1))
def command = (section =~ /(?s)```sh\n(.*?)```/)[0][1].trim()
def p = new ProcessBuilder('bash', '-c', command).directory(basedir).redirectErrorStream(true).start()
def output = p.inputStream.text
p.waitFor()
new File(basedir, 'run.log').text = output
assert p.exitValue() == 0 : "README's command failed:\n" + output
assert output =~ /Tiny: \d+ parameters, loss [0-9.]+, output \[64, 10(, 1, 1)?\]/ : "Main did not run to the end:\n" + output
return true
