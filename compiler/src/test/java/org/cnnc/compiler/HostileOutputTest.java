// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.diag.ShortRenderer;
import org.cnnc.compiler.graph.GraphModel;
import org.cnnc.compiler.graph.Renderers;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.lint.Formats;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Specs are untrusted: text from a spec (a string, a comment, the file's name) reaches every
 * output escaped for it, so it cannot add GitHub workflow commands, drive the terminal, or make an
 * XML, JSON, DOT or Mermaid file that does not parse.
 */
class HostileOutputTest {
  @TempDir Path dir;

  /** What a .cnn string may hold raw: controls (NUL, ESC, BEL, C1, DEL), bidi overrides, U+2028. */
  static final String HOSTILE = "a\u0000b\u001b[31mc\u0007d\u0001e\u0085f\u202eg\u2066h\u2028i\u007fj<&>'\"";

  static boolean clean(String s) {
    return s.chars().noneMatch(c -> c != '\n' && Escape.unsafe((char) c));
  }

  Linter.Result lint(Path spec) {
    return Linter.lint(Compiler.compile(Compiler.Request.of(spec)), LintConfig.defaults(), dir);
  }

  /** A string where an integer belongs: the message quotes it. */
  Path badArgument() throws Exception {
    String hostile = HOSTILE.replace("\"", "");
    return Files.writeString(dir.resolve("bad.cnn"),
        "model M {\n  input [3, 8, 8] /* \u001b]0;title\u0007 \u202e */ conv(8, 3, padding = \"" + hostile + "\")\n}\n");
  }

  @Test
  void githubCommandsCannotBeInjectedByAnyDiagnostic() throws Exception {
    // 13 warnings: ten annotations, then plain lines; the file's name starts a new line with a command
    StringBuilder spec = new StringBuilder();
    for (int i = 0; i < 13; i++) {
      spec.append("model M").append(i).append(" {\n  input [3, 8, 8]\n  conv(4, 3)\n  dense(10)\n}\n");
    }
    Path f = Files.writeString(dir.resolve("x\n::stop-commands::tok\n::warning file=y::z,%0A.cnn"), spec.toString());
    String out = Formats.github(lint(f));
    List<String> lines = out.lines().toList();
    assertEquals(10 + 1 + 3, lines.size(), out);
    for (String line : lines) {
      assertTrue(line.startsWith("::warning file=") || line.startsWith("::warning title=cnnc::")
          || !line.strip().startsWith("::"), line);
      assertTrue(clean(line), line);
    }
    // the runner's unescaping gives back the name
    String annotation = lines.get(0);
    String file = annotation.substring("::warning file=".length(), annotation.indexOf(",line="));
    assertEquals(f.toString(), file.replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%"));
    assertTrue(lines.get(13).endsWith(": warning: `dense` on the [4, 6, 6] feature map flattens it implicitly [DENSE_ON_MAP]"),
        lines.get(13));
  }

  @Test
  void githubEscapesControlsInMessages() throws Exception {
    Linter.Result r = lint(badArgument());
    String out = Formats.github(r);
    assertEquals(1, out.lines().count(), out);
    assertTrue(clean(out), out);
    assertTrue(out.contains("\\u001b[31m"), out);
  }

  @Test
  void humanAndShortEscapeForTheTerminalAndKeepTheCaretsUnderTheSpan() throws Exception {
    Linter.Result r = lint(badArgument());
    Diagnostic d = r.diagnostics().get(0);
    String human = new HumanRenderer(false).render(d);
    assertTrue(clean(human), human);
    List<String> lines = human.lines().toList();
    String source = lines.get(3);
    String carets = lines.get(4);
    String literal = Escape.terminal(d.span().text());
    int at = source.indexOf(literal);
    assertTrue(at > 0, source);
    assertEquals(at, carets.indexOf('^'), human);
    assertEquals("^".repeat(literal.length()) + " this is a string", carets.substring(at), human);
    assertTrue(source.contains("/* \\u001b]0;title\\u0007 \\u202e */"), source);

    String colored = new HumanRenderer(true).render(d);
    // the only escape sequences are cnnc's own colours
    assertTrue(clean(colored.replaceAll("\u001b\\[[0-9;]*m", "")), colored);

    String shortLine = new ShortRenderer().render(d);
    assertTrue(clean(shortLine) && !shortLine.contains("\n"), shortLine);
    assertTrue(shortLine.contains("\\u0000b\\u001b[31mc\\u0007d\\u0001e\\u0085f\\u202eg\\u2066h\\u2028i\\u007fj"), shortLine);
  }

  @Test
  void aFileNameCannotAddLinesToShortOutput() throws Exception {
    Path f = Files.writeString(dir.resolve("a\nb\u001b.cnn"), "model M {\n  input [3, 8, 8]\n  convv(8, 3)\n}\n");
    Linter.Result r = lint(f);
    String line = new ShortRenderer().render(r.diagnostics().get(0));
    assertTrue(line.startsWith(dir + "/a\\u000ab\\u001b.cnn:3:3: error: "), line);
    String human = new HumanRenderer(false).render(r.diagnostics().get(0));
    assertTrue(clean(human), human);
    assertTrue(human.contains(" --> " + dir + "/a\\u000ab\\u001b.cnn:3:3\n"), human);
  }

  @Test
  void checkstyleIsWellFormedXml10AndShowsTheControls() throws Exception {
    Linter.Result r = lint(badArgument());
    String xml = Formats.checkstyle(r);
    assertTrue(clean(xml), xml);
    var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    String message = doc.getElementsByTagName("error").item(0).getAttributes().getNamedItem("message").getNodeValue();
    assertTrue(message.contains("\"a\\u0000b\\u001b[31mc\\u0007d\\u0001e\\u0085f\\u202eg\\u2066h\\u2028i\\u007fj<&>'\""),
        message);
  }

  @Test
  void jsonAndSarifHoldTheExactMessageWithEveryControlEscaped() throws Exception {
    Linter.Result r = lint(badArgument());
    Diagnostic d = r.diagnostics().get(0);
    String json = Formats.json(r, "0.1.0");
    assertTrue(clean(json), json);
    assertEquals(d.message(), new ObjectMapper().readTree(json).get("diagnostics").get(0).get("message").asText());
    String sarif = Formats.sarif(r, "0.1.0");
    assertTrue(clean(sarif), sarif);
    JsonNode result = new ObjectMapper().readTree(sarif).get("runs").get(0).get("results").get(0);
    assertTrue(result.get("message").get("text").asText().startsWith(d.message()));
  }

  /** A block's string argument is shown in its box. */
  GraphModel hostileGraph() throws Exception {
    Path f = Files.writeString(dir.resolve("g.cnn"),
        "block B(tag: string) {\n  relu\n}\nmodel M {\n  input [3, 8, 8]\n  b: B(\"" + HOSTILE.replace("\"", "")
            + "#quot;\\n\")\n}\n");
    var c = Compiler.compile(Compiler.Request.of(f));
    assertTrue(c.ok(), c.diagnostics().sorted().toString());
    return new GraphModel(c.network("M").orElseThrow(), Set.of());
  }

  @Test
  void svgIsWellFormedWhateverTheLabels() throws Exception {
    String svg = Renderers.svg(hostileGraph(), false);
    assertTrue(clean(svg), svg);
    var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    var texts = doc.getElementsByTagName("text");
    boolean found = false;
    for (int i = 0; i < texts.getLength(); i++) {
      found |= texts.item(i).getTextContent().startsWith("b: B(\"a\\u0000b\\u001b[31mc");
    }
    assertTrue(found, svg);
  }

  @Test
  void dotAndMermaidKeepEachLabelInItsStatement() throws Exception {
    GraphModel g = hostileGraph();
    String dot = Renderers.dot(g, false);
    assertTrue(clean(dot), dot);
    String node = dot.lines().filter(l -> l.contains("B(")).findFirst().orElseThrow();
    // the label is one DOT string: the only unescaped quotes are its own
    String label = node.substring(node.indexOf("label=") + 6, node.indexOf(", fillcolor="));
    assertEquals(2, label.replace("\\\\", "").replace("\\\"", "").chars().filter(c -> c == '"').count(), label);
    assertTrue(label.contains("\\\\u001b[31m"), label);

    String mermaid = Renderers.mermaid(g, false);
    assertTrue(clean(mermaid), mermaid);
    String box = mermaid.lines().filter(l -> l.contains("B(")).findFirst().orElseThrow();
    assertTrue(box.matches("  n\\d+\\[\"[^\"<>]*(<br/>[^\"<>]*)*\"\\]:::block"), box);
    assertTrue(box.contains("#35;quot;"), box); // a `#quot;` the spec wrote stays text
  }

  @Test
  void fmtDiffsAndSummariesEscapeForTheTerminal() throws Exception {
    String text = "model M {\ninput [3, 8, 8] /* \u001b[2J \u202e */\n}\n";
    String diff = org.cnnc.compiler.fmt.Diff.unified("a\u001b.cnn", text, text.replace("\ninput", "\n    input"));
    assertTrue(clean(diff), diff);
    assertTrue(diff.startsWith("--- a\\u001b.cnn\n+++ a\\u001b.cnn (formatted)\n"), diff);
    assertTrue(diff.contains("\n-input [3, 8, 8] /* \\u001b[2J \\u202e */\n"), diff);

    Path f = Files.writeString(dir.resolve("s\u001b]0;x\u0007.cnn"), "model M {\n  input [3, 8, 8]\n  conv(8, 3)\n}\n");
    var c = Compiler.compile(Compiler.Request.of(f));
    String summary = org.cnnc.compiler.summary.SummaryRenderer.render(
        new org.cnnc.compiler.summary.Summary(c.network("M").orElseThrow()), Integer.MAX_VALUE, false);
    assertTrue(clean(summary), summary);
    assertTrue(summary.contains("s\\u001b]0;x\\u0007.cnn:1:1"), summary);
  }
}
