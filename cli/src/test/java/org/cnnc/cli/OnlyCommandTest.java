// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Start-up: a named command runs on a command line holding only it, and meets its user alike. */
class OnlyCommandTest {
  @Test
  void everyCommandsHelpIsTheSameAsOnTheFullCommandLine() {
    CommandLine full = Main.commandLine();
    for (String name : full.getSubcommands().keySet()) {
      if (name.equals("help")) {
        assertNull(Main.only(name), "help lists every command: the full command line answers it");
        continue;
      }
      CommandLine only = Main.only(name);
      assertNotNull(only, name);
      assertEquals(List.of(name), List.copyOf(only.getSubcommands().keySet()));
      assertEquals(full.getSubcommands().get(name).getUsageMessage(CommandLine.Help.Ansi.OFF),
          only.getSubcommands().get(name).getUsageMessage(CommandLine.Help.Ansi.OFF), name);
    }
  }

  @Test
  void namesThatAreNoCommandGetTheFullCommandLine() {
    for (String arg : new String[] {"--help", "-V", "chek", "", "run"}) {
      assertNull(Main.only(arg), arg);
    }
  }

  @Test
  void aMistakeInACommandsOptionsReadsAsBefore() {
    MainTest.Run r = MainTest.run("check", "--bogus", "../models.cnn");
    assertEquals(Main.USAGE, r.code());
    assertEquals("Unknown option: '--bogus'", r.err().lines().findFirst().orElse(""));
    assertEquals("Usage: cnnc check [-hV] [--backend=NAMES] [--color=WHEN]", r.err().lines().skip(1).findFirst().orElse(""));
  }
}
