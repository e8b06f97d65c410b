// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.lint.Formats;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.cnnc.compiler.lint.Rule;
import org.cnnc.compiler.lint.Rules;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LintTest {
  @TempDir Path dir;

  static Linter.Result lint(Path spec, LintConfig cfg, Path base) {
    return Linter.lint(Compiler.compile(Compiler.Request.of(spec)), cfg, base);
  }

  static List<String> rows(Linter.Result r) {
    return r.diagnostics().stream()
        .map(d -> d.span().line() + ":" + d.span().column() + " " + d.severity().word() + " " + d.id()).toList();
  }

  /** The article's real quirks, at the right lines, and no other warning. */
  @Test
  void theArticlesModels() {
    Linter.Result r = lint(ReferenceTest.MODELS, LintConfig.defaults(), Path.of(".."));
    assertEquals(List.of(
        "31:9 warning SOFTMAX_BEFORE_CROSS_ENTROPY",   // VGG16's softmax, then CrossEntropyLoss
        "44:9 note WINDOW_DROPS_INPUT",                 // NiN's first pool never reads row and column 31
        "57:42 warning ACTIVATION_BEFORE_SOFTMAX",     // NiN's relu before its softmax
        "59:9 warning SOFTMAX_BEFORE_CROSS_ENTROPY",   // NiN's softmax
        "80:20 note CEIL_NO_EFFECT"),                   // Inception's branch4 pool: stride 1, ceil changes nothing
        rows(r));
  }

  /**
   * Sizes past the budget are named, not tried: a spec the fuzzer found (GoogLeNet with 16,830
   * sizes) took 5.5 s, and wider ranges were passed unchecked.
   */
  @Test
  void inputSizesPastTheBudgetAreNamedNotTried() throws Exception {
    Path spec = Files.writeString(dir.resolve("wide.cnn"), """
        model Wide {
            input [3, 32, 32]
            expect input [3, 16..2000, 17..2000]
            conv(8, 3, padding = 1)
            global_avgpool
            flatten
            dense(10)
        }
        """);
    Linter.Result r = lint(spec, LintConfig.defaults(), dir);
    assertEquals(List.of("3:5 warning INPUT_SIZES"), rows(r));
    String message = r.diagnostics().get(0).message();
    assertTrue(message.contains("declares 3,938,240 input sizes, too many to try one by one"), message);
  }

  @Test
  void configurationTurnsRulesOffAndChangesSeverityPerPath() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("legacy"));
    String spec = "model Net {\n  input [3, 8, 8]\n  conv(4, 3)\n  dense(10)\n  softmax\n}\n";
    Files.writeString(specs.resolve("old.cnn"), spec);
    Files.writeString(dir.resolve("new.cnn"), spec);
    Path cfgFile = Files.writeString(dir.resolve("cnnc.yaml"), """
        # lint configuration
        rules:
          DENSE_ON_MAP: error
        overrides:
          - paths: ["legacy/**"]
            rules:
              SOFTMAX_BEFORE_CROSS_ENTROPY: off
              DENSE_ON_MAP: note
        max-warnings: 3
        """);
    LintConfig cfg = LintConfig.load(cfgFile);
    assertEquals(3, cfg.maxWarnings().orElseThrow());
    assertEquals(List.of("4:3 error DENSE_ON_MAP", "5:3 warning SOFTMAX_BEFORE_CROSS_ENTROPY"),
        rows(lint(dir.resolve("new.cnn"), cfg, dir)));
    assertEquals(List.of("4:3 note DENSE_ON_MAP"), rows(lint(specs.resolve("old.cnn"), cfg, dir)));
  }

  @Test
  void badConfigurationNamesItsLine() throws Exception {
    Path cfg = Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  SOFTMAX_BEFOR_CROSS_ENTROPY: off\n");
    var e = assertThrows(LintConfig.ConfigException.class, () -> LintConfig.load(cfg));
    assertEquals(cfg + ":2: unknown rule `SOFTMAX_BEFOR_CROSS_ENTROPY`; did you mean `SOFTMAX_BEFORE_CROSS_ENTROPY`?",
        e.getMessage());
    Path level = Files.writeString(dir.resolve("level.yaml"), "rules:\n  UNUSED_NODE: loud\n");
    assertTrue(assertThrows(LintConfig.ConfigException.class, () -> LintConfig.load(level)).getMessage()
        .endsWith(":2: a rule's level is off, note, warning or error; found `loud`"));
  }

  @Test
  void aConfigurationOverTheSizeLimitIsNotReadPastIt() throws Exception {
    Path huge = Files.write(dir.resolve("huge.yaml"), new byte[(int) org.cnnc.compiler.Limits.DEFAULT_MAX_FILE_BYTES + 1]);
    assertThrows(org.cnnc.compiler.source.SourceFile.TooLargeException.class, () -> LintConfig.load(huge));
  }

  @Test
  void malformedGlobsAreErrorsOnTheirLine() throws Exception {
    Path bracket = Files.writeString(dir.resolve("bracket.yaml"), "overrides:\n  - paths: [\"ok/**\", \"a[\"]\n");
    assertEquals(bracket + ":2: invalid glob `a[`: `[` is not closed at character 2",
        assertThrows(LintConfig.ConfigException.class, () -> LintConfig.load(bracket)).getMessage());
    Path nested = Files.writeString(dir.resolve("nested.yaml"), "overrides:\n  - paths: [\"**/{a,{b,c}}.cnn\"]\n");
    assertEquals(nested + ":2: invalid glob `**/{a,{b,c}}.cnn`: braces inside braces are not supported; "
        + "list every alternative in one pair: {a,b,c}",
        assertThrows(LintConfig.ConfigException.class, () -> LintConfig.load(nested)).getMessage());
    // one pair of braces, with commas inside, in an inline list, is one glob
    Path braces = Files.writeString(dir.resolve("braces.yaml"), "overrides:\n  - paths: [\"{a,b}/**\", 'c.cnn']\n"
        + "    rules:\n      UNUSED_NODE: off\n");
    LintConfig cfg = LintConfig.load(braces);
    Rule unused = Rules.byId("UNUSED_NODE");
    assertEquals(java.util.Optional.empty(), cfg.severity(unused, "b/x/m.cnn"));
    assertEquals(java.util.Optional.empty(), cfg.severity(unused, "c.cnn"));
    assertTrue(cfg.severity(unused, "d/m.cnn").isPresent());
  }

  @Test
  void commentsSuppressARuleOnALineOrAFile() throws Exception {
    Path spec = Files.writeString(dir.resolve("s.cnn"), """
        model Net {
          input [3, 8, 8]
          conv(4, 3)
          // cnnc-disable-next-line DENSE_ON_MAP
          dense(10)
          softmax   // cnnc-disable-line SOFTMAX_BEFORE_CROSS_ENTROPY
        }
        model Other {
          input [3, 8, 8]
          conv(4, 3)
          dense(10)     // cnnc-disable-line UNUSED_NODE: names another rule, so DENSE_ON_MAP stays
        }
        """);
    assertEquals(List.of("11:3 warning DENSE_ON_MAP"), rows(lint(spec, LintConfig.defaults(), dir)));
    Files.writeString(spec, Files.readString(spec) + "// cnnc-disable-file DENSE_ON_MAP\n");
    assertEquals(List.of(), rows(lint(spec, LintConfig.defaults(), dir)));
  }

  @Test
  void compilerErrorsComeUnderTheirIds() throws Exception {
    Path spec = Files.writeString(dir.resolve("e.cnn"), "model Net {\n  input [3, 8, 8]\n  convv(4, 3)\n}\n");
    Linter.Result r = lint(spec, LintConfig.defaults(), dir);
    assertEquals(List.of("3:3 error UNKNOWN_NAME"), rows(r));
    assertEquals("compiler", r.rules().get("UNKNOWN_NAME").category().word());
  }

  @Test
  void jsonAndCheckstyleParse() throws Exception {
    Linter.Result r = lint(ReferenceTest.MODELS, LintConfig.defaults(), Path.of(".."));
    JsonNode json = new ObjectMapper().readTree(Formats.json(r, "0.1.0"));
    assertEquals(5, json.get("diagnostics").size());
    JsonNode first = json.get("diagnostics").get(0);
    assertEquals("SOFTMAX_BEFORE_CROSS_ENTROPY", first.get("id").asText());
    assertEquals(31, first.get("line").asInt());
    assertEquals(3, json.get("summary").get("warnings").asInt());

    var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(Formats.checkstyle(r).getBytes()));
    var errors = doc.getElementsByTagName("error");
    assertEquals(5, errors.getLength());
    assertEquals("cnnc.ACTIVATION_BEFORE_SOFTMAX", errors.item(2).getAttributes().getNamedItem("source").getNodeValue());
    assertEquals("info", errors.item(1).getAttributes().getNamedItem("severity").getNodeValue());
  }

  @Test
  void githubAnnotationsStopAtTenPerKindAndSummarizeTheRest() throws Exception {
    StringBuilder spec = new StringBuilder();
    for (int i = 0; i < 13; i++) {
      spec.append("model M").append(i).append(" {\n  input [3, 8, 8]\n  conv(4, 3)\n  dense(10)\n}\n");
    }
    Path f = Files.writeString(dir.resolve("many.cnn"), spec.toString());
    String out = Formats.github(lint(f, LintConfig.defaults(), dir));
    List<String> lines = out.lines().toList();
    assertEquals(10, lines.stream().filter(l -> l.startsWith("::warning file=")).count());
    assertTrue(lines.get(0).startsWith("::warning file=" + f + ",line=4,col=3,endLine=4,endColumn=12,title=cnnc DENSE_ON_MAP::"
        + "`dense` on the [4, 6, 6] feature map flattens it implicitly%0Ahelp: write `flatten` before it"), lines.get(0));
    assertTrue(out.contains("::warning title=cnnc::3 more diagnostics are not shown as annotations"), out);
    assertTrue(out.contains(f + ":64:3: warning: `dense` on the [4, 6, 6] feature map flattens it implicitly [DENSE_ON_MAP]"), out);
  }

  /** SARIF 2.1.0, validated against the official schema (sarif-2.1.0-rtm.5, fetched from the npm registry). */
  @Test
  void sarifValidatesAgainstTheSchema() throws Exception {
    Linter.Result r = lint(ReferenceTest.MODELS, LintConfig.defaults(), Path.of(".."));
    String sarif = Formats.sarif(r, "0.1.0");
    JsonSchema schema;
    try (InputStream in = Files.newInputStream(SarifSchema.path())) {
      schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4).getSchema(in);
    }
    JsonNode log = new ObjectMapper().readTree(sarif);
    Set<ValidationMessage> errors = schema.validate(log);
    assertEquals(Set.of(), errors);
    JsonNode run = log.get("runs").get(0);
    assertEquals(4, run.get("tool").get("driver").get("rules").size());
    JsonNode result = run.get("results").get(0);
    assertEquals("SOFTMAX_BEFORE_CROSS_ENTROPY", result.get("ruleId").asText());
    assertEquals("../models.cnn", result.get("locations").get(0).get("physicalLocation").get("artifactLocation").get("uri").asText());
    assertTrue(result.get("partialFingerprints").get("primaryLocationLineHash").asText().matches("[0-9a-f]{16}:1"));
    // the same finding gets the same fingerprint when lines move
    Path moved = Files.writeString(dir.resolve("models.cnn"), "\n\n// moved\n" + Files.readString(ReferenceTest.MODELS));
    JsonNode movedLog = new ObjectMapper().readTree(Formats.sarif(lint(moved, LintConfig.defaults(), dir), "0.1.0"));
    assertEquals(result.get("partialFingerprints"), movedLog.get("runs").get(0).get("results").get(0).get("partialFingerprints"));
    assertEquals(34, movedLog.get("runs").get(0).get("results").get(0).get("locations").get(0)
        .get("physicalLocation").get("region").get("startLine").asInt());
    assertTrue(r.count(Severity.ERROR) == 0);
  }
}
