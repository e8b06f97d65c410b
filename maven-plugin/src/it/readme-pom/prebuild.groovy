// Empties the project, then writes into it the three files README.md's "The Maven plugin"
// section shows (a spec, pom.xml, Main.java), read from README itself so they stay in step.
def readme = new File(cnncRoot, 'README.md').text
def section = readme.substring(readme.indexOf('\n## The Maven plugin\n'))
section = section.substring(0, section.indexOf('\n## ', 1))
def blocks = (section =~ /(?s)```(\w+)\n(.*?)```/).collect { [lang: it[1], text: it[2]] }
assert blocks.size() >= 3 : "README's plugin section lost its files"
assert blocks[0].lang == 'cnn' && blocks[1].lang == 'xml' && blocks[2].lang == 'java'
basedir.eachFile { f -> if (f.name != 'build.log' && !f.name.endsWith('.groovy') && f.name != 'invoker.properties') {
  f.isDirectory() ? f.deleteDir() : f.delete() } }
def put = { String path, String text -> def f = new File(basedir, path); f.parentFile.mkdirs(); f.text = text }
put('src/main/cnn/nets/tiny.cnn', blocks[0].text)
put('pom.xml', blocks[1].text)
put('src/main/java/demo/Main.java', blocks[2].text)
assert section.contains('`src/main/cnn/nets/tiny.cnn`') && section.contains('`src/main/java/demo/Main.java`')
return true
