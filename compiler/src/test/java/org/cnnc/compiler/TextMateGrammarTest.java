// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.junit.jupiter.api.Test;

/** The editor grammar: valid JSON, every regex compiles, every op and keyword is highlighted. */
class TextMateGrammarTest {
  static final Path DIR = Path.of("../editors/vscode");

  @Test
  void grammarIsValidAndCoversTheLanguage() throws Exception {
    JsonNode g = new ObjectMapper().readTree(Files.readString(DIR.resolve("syntaxes/cnn.tmLanguage.json")));
    assertEquals("source.cnn", g.get("scopeName").asText());
    List<String> regexes = new ArrayList<>();
    collect(g, regexes);
    assertTrue(regexes.size() > 15);
    for (String r : regexes) {
      Pattern.compile(r);
    }
    String ops = g.get("repository").get("ops").get("patterns").get(0).get("match").asText();
    Pattern opPattern = Pattern.compile(ops);
    for (OpDef op : Ops.callable()) {
      assertTrue(opPattern.matcher(op.name()).matches(), "op " + op.name() + " is highlighted");
    }
    // exactly the registry's callable ops, in its order: the grammar's op list is the registry's
    assertEquals("\\b(" + String.join("|", Ops.callable().stream().map(OpDef::name).toList()) + ")\\b", ops);
    Pattern keywords = Pattern.compile(g.get("repository").get("keywords").get("patterns").get(0).get("match").asText());
    // every keyword of the lexer is highlighted by one of the grammar's patterns
    List<String> lexerKeywords = org.cnnc.compiler.syntax.Labels.keywords();
    assertTrue(lexerKeywords.containsAll(List.of("model", "block", "input", "repeat", "as", "true")), lexerKeywords.toString());
    for (String kw : lexerKeywords) {
      // by a pattern for words like it, not by one that takes any name
      assertTrue(regexes.stream().anyMatch(r -> Pattern.compile(r).matcher(kw + " Name").lookingAt()
          && !Pattern.compile(r).matcher("zzqx Name").lookingAt()), "keyword " + kw + " is highlighted");
    }
    // every merge of the registry is a keyword (`concat`, `add`, `mul`)
    for (OpDef op : Ops.all()) {
      assertEquals(op.isMerge(), keywords.matcher(op.name()).matches(), "merge " + op.name() + " is a keyword");
    }
    // quoted labels, `"block1-0": ...`, are labels, not strings (the first pattern of #labels)
    Pattern quoted = Pattern.compile(g.get("repository").get("labels").get("patterns").get(0).get("match").asText());
    var m = quoted.matcher("\"block1-0\": ResBottleneck(48, 8)");
    assertTrue(m.lookingAt() && m.group(1).equals("\"block1-0\""), "quoted label");
    assertTrue(!quoted.matcher("\"row\") :").lookingAt(), "a string argument is no label");
    JsonNode pkg = new ObjectMapper().readTree(Files.readString(DIR.resolve("package.json")));
    assertEquals(".cnn", pkg.get("contributes").get("languages").get(0).get("extensions").get(0).asText());
    new ObjectMapper().readTree(Files.readString(DIR.resolve("language-configuration.json")));
  }

  private static void collect(JsonNode n, List<String> out) {
    if (n.isObject()) {
      n.fields().forEachRemaining(e -> {
        if (List.of("match", "begin", "end").contains(e.getKey()) && e.getValue().isTextual()) {
          out.add(e.getValue().asText());
        } else {
          collect(e.getValue(), out);
        }
      });
    } else if (n.isArray()) {
      n.forEach(x -> collect(x, out));
    }
  }
}
