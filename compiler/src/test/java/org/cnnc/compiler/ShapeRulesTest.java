// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * cnnc's conv and pooling shape rules against 1,500 cases measured by running PyTorch 1.13
 * (tools/pytorch/shape_rules.py): every output size, and every case PyTorch refuses, must agree.
 */
class ShapeRulesTest {

  @Test
  void everyCaseAgreesWithPyTorch() throws Exception {
    JsonNode cases;
    try (InputStream in = getClass().getResourceAsStream("/reference/shape_rules.json")) {
      cases = new ObjectMapper().readTree(in);
    }
    List<String> disagreements = new ArrayList<>();
    int refused = 0;
    for (JsonNode c : cases) {
      String spec = "model M {\n  input " + c.get("in") + "\n  " + call(c) + "\n}\n";
      var result = Compiler.compileText("case.cnn", spec, Map.of());
      String actual = result.ok()
          ? result.networks().get(0).nodes().get(1).shape().toString()
          : "error " + result.diagnostics().sorted().get(0).id();
      String expected = c.get("result").isTextual() ? "error" : c.get("result").toString().replace(",", ", ");
      boolean agree = expected.equals("error") ? actual.startsWith("error ") : expected.equals(actual);
      if (expected.equals("error")) {
        refused++;
        String id = actual.substring(actual.indexOf(' ') + 1);
        String message = c.get("message").asText();
        String want = message.startsWith("pad should be") ? "PADDING_TOO_LARGE" : "KERNEL_TOO_LARGE";
        agree &= id.equals(want);
      }
      if (!agree) {
        disagreements.add(call(c) + " on " + c.get("in") + ": PyTorch " + expected + ", cnnc " + actual);
      }
    }
    assertTrue(cases.size() >= 1000 && refused > 100, "the fixture covers results and refusals");
    assertEquals(List.of(), disagreements);
  }

  private static String call(JsonNode c) {
    String op = c.get("op").asText();
    StringBuilder s = new StringBuilder(op).append('(');
    if (op.equals("conv")) {
      s.append(c.get("out").asInt()).append(", ");
    }
    s.append(c.get("kernel")).append(", stride = ").append(c.get("stride")).append(", padding = ").append(c.get("padding"));
    if (c.has("dilation")) {
      s.append(", dilation = ").append(c.get("dilation"));
    }
    if (c.has("ceil")) {
      s.append(", ceil = ").append(c.get("ceil").asBoolean());
    }
    if (c.has("count_include_pad")) {
      s.append(", count_include_pad = ").append(c.get("count_include_pad").asBoolean());
    }
    return s.append(')').toString();
  }
}
