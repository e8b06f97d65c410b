// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code cnnc}: check, summarize (and, in later releases, generate) convolutional networks.
 *
 * <p>Exit codes: 0 fine, 1 errors in specs, 2 usage or I/O errors, 3 an internal error of cnnc.
 */
@Command(
    name = "cnnc",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "The compiler for .cnn network specs.",
    subcommands = {CheckCommand.class, LintCommand.class, SummaryCommand.class, GraphCommand.class, FmtCommand.class,
        ExportCommand.class,
        GenerateCommand.class, LspCommand.class, OpsCommand.class,
        ImportCommand.class,
        CommandLine.HelpCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:fine", "1:errors in specs", "2:usage or I/O error", "3:internal error of cnnc"})
public final class Main implements Runnable {
  public static final int OK = 0;
  public static final int SPEC_ERRORS = 1;
  public static final int USAGE = 2;
  public static final int INTERNAL = 3;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(),
        "a command is required: " + String.join(", ", spec.subcommands().keySet().stream().filter(n -> !n.equals("help")).toList()));
  }

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /**
   * Runs cnnc as the command line would, with its own output streams (tests use this). The work
   * runs on a thread with a large stack, so deeply nested specs meet cnnc's own limits, not the JVM's.
   */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    return run(args, out, err, new Object[0]);
  }

  /** As {@link #run(String[], PrintWriter, PrintWriter)}, with more subcommands (run, train, bench live with DL4J). */
  public static int run(String[] args, PrintWriter out, PrintWriter err, Object... extraCommands) {
    AtomicInteger code = new AtomicInteger(INTERNAL);
    Thread t = new Thread(null, () -> {
      try {
        code.set(execute(args, out, err, extraCommands));
      } catch (Throwable e) { // an Error (out of memory, a missing class) escapes picocli's handler: still exit 3, said plainly
        err.println("cnnc: internal error: " + org.cnnc.compiler.io.Escape.terminal(String.valueOf(e)));
        err.println("(please report it)");
        code.set(INTERNAL);
      }
    }, "cnnc", 512L << 20);
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    out.flush();
    err.flush();
    return code.get();
  }

  private static int execute(String[] args, PrintWriter out, PrintWriter err, Object... extraCommands) {
    CommandLine cmd = args.length > 0 ? only(args[0], extraCommands) : null;
    if (cmd == null) {
      cmd = commandLine(extraCommands);
    }
    cmd.setOut(out);
    cmd.setErr(err);
    if (args.length > 0 && DL4J_COMMANDS.contains(args[0]) && !cmd.getSubcommands().containsKey(args[0])) {
      printError(err, missingDl4j(args[0], new Version().versionText(), cmd));
      return USAGE;
    }
    cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof UncheckedIOException || e instanceof UsageError) {
        printError(err, String.valueOf(e.getMessage()));
        return USAGE;
      }
      err.println("cnnc: internal error: " + org.cnnc.compiler.io.Escape.terminal(String.valueOf(e)));
      if (System.getenv("CNNC_DEBUG") != null) {
        e.printStackTrace(err);
      } else {
        err.println("(set CNNC_DEBUG=1 for the stack trace, and please report it)");
      }
      return INTERNAL;
    });
    return cmd.execute(args);
  }

  /** The commands that compute on Deeplearning4j: they live in the run module, not in this one. */
  static final java.util.Set<String> DL4J_COMMANDS = java.util.Set.of("run", "train", "bench");

  /**
   * What a {@code cnnc} built without DL4J (the small distribution, or the cli module alone) says
   * when one of {@link #DL4J_COMMANDS} is asked: it fetches nothing and names what to install.
   */
  static List<String> missingDl4j(String command, String version, CommandLine cmd) {
    List<String> here = cmd.getSubcommands().keySet().stream().filter(c -> !c.equals("help")).toList();
    return List.of("'" + command + "' computes on Deeplearning4j, which this cnnc leaves out (it has the compile-time"
        + " commands only: " + String.join(", ", here) + ").",
        "Install the full distribution, cnnc-full-" + version + ".tar.gz (or .zip), which adds DL4J, ND4J and"
        + " their native libraries, or build cnnc from source (README, \"Installing\").");
  }

  /**
   * Every option's default in every command's --help ("Default: ..."), where it has one and its
   * description does not already say it (in its own words, or with picocli's
   * {@code ${DEFAULT-VALUE}}); an empty list or map is not shown as a default.
   */
  static void showDefaults(CommandLine cmd) {
    CommandSpec spec = cmd.getCommandSpec();
    spec.usageMessage().showDefaultValues(true);
    for (OptionSpec option : List.copyOf(spec.options())) {
      String description = String.join(" ", option.description()).toLowerCase(java.util.Locale.ROOT);
      Object initial = option.initialValue();
      boolean empty = option.defaultValue() == null && (initial == null
          || initial instanceof java.util.Collection<?> c && c.isEmpty() || initial instanceof java.util.Map<?, ?> m && m.isEmpty());
      if ((description.contains("default") || empty) && option.showDefaultValue() != CommandLine.Help.Visibility.NEVER) {
        spec.remove(option);
        spec.addOption(option.toBuilder().showDefaultValue(CommandLine.Help.Visibility.NEVER).build());
      }
    }
    cmd.getSubcommands().values().forEach(Main::showDefaults);
  }

  /** The command line as {@link #run} builds it, for tests of its help. */
  static CommandLine commandLine(Object... extraCommands) {
    CommandLine cmd = new CommandLine(new Main());
    for (Object extra : extraCommands) {
      cmd.addSubcommand(extra);
    }
    showDefaults(cmd);
    return cmd;
  }

  /**
   * Start-up: the command line with only the command {@code name} under the root, or null when
   * {@code name} is not a command's name (an option, {@code help}, a mistake: the full command
   * line answers those, with the list of commands). Picocli builds each command's model by
   * reflection when the command line is made, some 25 ms of CPU a command on a cold JVM; a
   * command's run, help and errors need only its own model and the root's name.
   */
  static CommandLine only(String name, Object... extraCommands) {
    Object command = null;
    for (Class<?> c : Main.class.getAnnotation(Command.class).subcommands()) {
      if (c != CommandLine.HelpCommand.class && named(c, name)) {
        command = c;
      }
    }
    for (Object extra : extraCommands) {
      if (named(extra.getClass(), name)) {
        command = extra;
      }
    }
    if (command == null) {
      return null;
    }
    CommandLine cmd = new CommandLine(new Root());
    cmd.addSubcommand(command);
    showDefaults(cmd);
    return cmd;
  }

  private static boolean named(Class<?> c, String name) {
    Command a = c.getAnnotation(Command.class);
    return a != null && (a.name().equals(name) || List.of(a.aliases()).contains(name));
  }

  /** The root of {@link #only}: {@code cnnc}, as usage lines and errors of a command name it. */
  @Command(name = "cnnc")
  static final class Root {}

  /**
   * A user's error on standard error, {@code cnnc: } first, on one line: escaped for the terminal
   * (file names, tensor names and values come from untrusted files), so that a line break in them
   * cannot start a line of its own.
   */
  public static void printError(PrintWriter err, String message) {
    err.println("cnnc: " + org.cnnc.compiler.io.Escape.terminal(message));
  }

  /** An error of several lines (a first line, then details), each escaped as {@link #printError(PrintWriter, String)}. */
  public static void printError(PrintWriter err, List<String> lines) {
    for (int i = 0; i < lines.size(); i++) {
      err.println((i == 0 ? "cnnc: " : "") + org.cnnc.compiler.io.Escape.terminal(lines.get(i)));
    }
  }

  /** A mistake in how cnnc was called, found after option parsing (an unknown model name, ...). */
  public static final class UsageError extends RuntimeException {
    public UsageError(String message) {
      super(message);
    }
  }

  /** The version of this build, e.g. {@code 0.1.0-SNAPSHOT}. */
  public static String version() {
    return new Version().versionText();
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"cnnc " + versionText()};
    }

    /** The version of this build, e.g. {@code 0.1.0-SNAPSHOT}. */
    String versionText() {
      Properties p = new Properties();
      try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      } catch (IOException e) {
        return "unknown";
      }
      return p.getProperty("version", "unknown");
    }
  }
}
