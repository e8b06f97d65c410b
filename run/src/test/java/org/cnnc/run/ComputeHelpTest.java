// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The --help of the commands this module adds (the cli module's StdinAndHelpTest covers the
 * compile-time ones): every option has a description, and says its default once, never as an empty
 * list or map.
 */
class ComputeHelpTest {
  @ParameterizedTest
  @ValueSource(strings = {"run", "train", "bench"})
  void everyOptionIsDescribedAndItsDefaultShownOnce(String command) {
    StringWriter out = new StringWriter();
    assertEquals(0, Cnnc.run(new String[] {command, "--help"}, new PrintWriter(out, true), new PrintWriter(new StringWriter())));
    List<String> blocks = new ArrayList<>();
    boolean options = false;
    for (String line : out.toString().split("\n")) {
      if (line.matches("\\s{2,}(-\\w, )?--?\\w.*")) {
        options = true;
        blocks.add(line);
      } else if (options && !blocks.isEmpty()) {
        blocks.set(blocks.size() - 1, blocks.get(blocks.size() - 1) + "\n" + line);
      }
    }
    List<String> problems = new ArrayList<>();
    for (String block : blocks) {
      String first = block.lines().findFirst().orElse("");
      // "  --name=LABEL   text": the text after the option's name column
      String text = first.replaceFirst("^\\s+(-\\w, )?--?[\\w-]+(=\\S+)?(\\[,\\S+\\.\\.\\.])?\\s*", "");
      boolean described = !text.isEmpty() && !text.startsWith("Default:")
          || block.lines().skip(1).anyMatch(l -> !l.isBlank() && !l.strip().startsWith("Default:"));
      if (!described) {
        problems.add("no description: " + block.strip());
      }
      if (block.toLowerCase(Locale.ROOT).split("default", -1).length - 1 > 1
          || block.matches("(?s).*Default: (\\{}|\\[]|null)\\s.*")) {
        problems.add("default shown twice or empty: " + block.strip());
      }
    }
    assertEquals(List.of(), problems, command + " --help");
  }
}
