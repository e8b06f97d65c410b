// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.lint;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.cnnc.compiler.diag.Severity;

/**
 * Lint configuration, read from {@code cnnc.yaml}:
 *
 * <pre>
 * rules:
 *   WINDOW_DROPS_INPUT: off          # off, note, warning or error
 *   UNUSED_NODE: error
 * overrides:
 *   - paths: ["legacy/**", "experiments/*.cnn"]
 *     rules:
 *       SOFTMAX_BEFORE_CROSS_ENTROPY: off
 * max-warnings: 10
 * </pre>
 *
 * The file is a small subset of YAML (maps, lists of maps, inline or block string lists,
 * comments); anything else is an error naming its line.
 */
public final class LintConfig {
  /** A rule's level: a severity, or off. */
  public enum Level { OFF, NOTE, WARNING, ERROR;

    Optional<Severity> severity() {
      return switch (this) {
        case OFF -> Optional.empty();
        case NOTE -> Optional.of(Severity.NOTE);
        case WARNING -> Optional.of(Severity.WARNING);
        case ERROR -> Optional.of(Severity.ERROR);
      };
    }
  }

  record Override(List<PathMatcher> paths, List<String> patterns, Map<String, Level> rules) {}

  private final Map<String, Level> rules;
  private final List<Override> overrides;
  private final Integer maxWarnings;

  private LintConfig(Map<String, Level> rules, List<Override> overrides, Integer maxWarnings) {
    this.rules = rules;
    this.overrides = overrides;
    this.maxWarnings = maxWarnings;
  }

  public static LintConfig defaults() {
    return new LintConfig(Map.of(), List.of(), null);
  }

  public Optional<Integer> maxWarnings() {
    return Optional.ofNullable(maxWarnings);
  }

  /**
   * The severity a rule reports at for a file, or empty when it is off there. Overrides apply in
   * order, the last match winning; paths are globs relative to the configuration's directory.
   */
  public Optional<Severity> severity(Rule rule, String relativePath) {
    Level level = rules.get(rule.id());
    for (Override o : overrides) {
      Path p = Path.of(relativePath);
      if (o.paths().stream().anyMatch(m -> m.matches(p)) && o.rules().containsKey(rule.id())) {
        level = o.rules().get(rule.id());
      }
    }
    if (level == null) {
      return Optional.of(rule.severity());
    }
    return level.severity();
  }

  /** A configuration problem, with the line it is on. */
  public static final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    ConfigException(Path file, int line, String message) {
      super(file + ":" + line + ": " + message);
    }
  }

  public static LintConfig load(Path file) throws IOException, ConfigException {
    // read as specs are: strict UTF-8, and not past the size limit (a cnnc.yaml of /dev/zero ends at once)
    List<String> lines = org.cnnc.compiler.source.SourceFile.readText(file, org.cnnc.compiler.Limits.DEFAULT_MAX_FILE_BYTES)
        .lines().toList();
    Map<String, Level> rules = new LinkedHashMap<>();
    List<Override> overrides = new ArrayList<>();
    Integer maxWarnings = null;
    String section = null;
    List<String> patterns = null;
    Map<String, Level> overrideRules = null;
    boolean inOverrideRules = false;
    for (int i = 0; i < lines.size(); i++) {
      int no = i + 1;
      String raw = stripComment(lines.get(i));
      if (raw.isBlank()) {
        continue;
      }
      int indent = raw.length() - raw.stripLeading().length();
      String line = raw.strip();
      if (indent == 0) {
        inOverrideRules = false;
        String[] kv = keyValue(file, no, line);
        switch (kv[0]) {
          case "rules", "overrides" -> {
            if (!kv[1].isEmpty()) {
              throw new ConfigException(file, no, "`" + kv[0] + "` takes an indented block");
            }
            section = kv[0];
          }
          case "max-warnings" -> {
            try {
              maxWarnings = Integer.parseInt(kv[1]);
            } catch (NumberFormatException e) {
              throw new ConfigException(file, no, "max-warnings must be a number, found `" + kv[1] + "`");
            }
            section = null;
          }
          default -> throw new ConfigException(file, no, "unknown key `" + kv[0] + "`; expected rules, overrides or max-warnings");
        }
        continue;
      }
      if ("rules".equals(section)) {
        String[] kv = keyValue(file, no, line);
        rules.put(ruleId(file, no, kv[0]), level(file, no, kv[1]));
      } else if ("overrides".equals(section)) {
        if (line.startsWith("- ")) {
          line = line.substring(2).strip();
          patterns = new ArrayList<>();
          overrideRules = new LinkedHashMap<>();
          inOverrideRules = false;
          List<PathMatcher> matchers = new ArrayList<>();
          overrides.add(new Override(matchers, patterns, overrideRules));
        }
        if (patterns == null) {
          throw new ConfigException(file, no, "an override starts with `- paths: [...]`");
        }
        String[] kv = keyValue(file, no, line);
        if (kv[0].equals("paths")) {
          inOverrideRules = false;
          for (String p : list(file, no, kv[1])) {
            patterns.add(p);
            Override o = overrides.get(overrides.size() - 1);
            try {
              o.paths().addAll(org.cnnc.compiler.io.Globs.ant(p));
            } catch (IllegalArgumentException e) {
              throw new ConfigException(file, no, e.getMessage());
            }
          }
        } else if (kv[0].equals("rules") && kv[1].isEmpty()) {
          inOverrideRules = true;
        } else if (inOverrideRules) {
          overrideRules.put(ruleId(file, no, kv[0]), level(file, no, kv[1]));
        } else {
          throw new ConfigException(file, no, "unknown key `" + kv[0] + "` in an override; expected paths or rules");
        }
      } else {
        throw new ConfigException(file, no, "unexpected indentation");
      }
    }
    return new LintConfig(rules, overrides, maxWarnings);
  }

  private static String stripComment(String line) {
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (c == '#' && !quoted) {
        return line.substring(0, i).stripTrailing();
      }
    }
    return line.stripTrailing();
  }

  private static String[] keyValue(Path file, int no, String line) throws ConfigException {
    int colon = line.indexOf(':');
    if (colon < 0) {
      throw new ConfigException(file, no, "expected `key: value`, found `" + line + "`");
    }
    return new String[] {line.substring(0, colon).strip(), unquote(line.substring(colon + 1).strip())};
  }

  private static List<String> list(Path file, int no, String value) throws ConfigException {
    if (!value.startsWith("[") || !value.endsWith("]")) {
      throw new ConfigException(file, no, "paths must be a list: [\"a/**\", \"b.cnn\"]");
    }
    // items are split at commas outside quotes and braces: "{a,b}/**" is one glob
    List<String> out = new ArrayList<>();
    String inner = value.substring(1, value.length() - 1);
    int start = 0;
    int braces = 0;
    char quote = 0;
    for (int i = 0; i <= inner.length(); i++) {
      char c = i < inner.length() ? inner.charAt(i) : ',';
      if (quote != 0) {
        quote = c == quote ? 0 : quote;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '{') {
        braces++;
      } else if (c == '}') {
        braces = Math.max(0, braces - 1);
      } else if (c == ',' && (braces == 0 || i == inner.length())) {
        String item = inner.substring(start, i);
        if (!item.isBlank()) {
          out.add(unquote(item.strip()));
        }
        start = i + 1;
      }
    }
    return out;
  }

  private static String unquote(String s) {
    return s.length() >= 2 && (s.startsWith("\"") && s.endsWith("\"") || s.startsWith("'") && s.endsWith("'"))
        ? s.substring(1, s.length() - 1) : s;
  }

  private static String ruleId(Path file, int no, String id) throws ConfigException {
    if (!Rules.known(id)) {
      List<String> ids = new ArrayList<>(Rules.ALL.stream().map(Rule::id).toList());
      String hint = org.cnnc.compiler.sema.Suggest.help(id, ids);
      throw new ConfigException(file, no, "unknown rule `" + id + "`" + (hint.isEmpty() ? "" : "; " + hint));
    }
    return id;
  }

  private static Level level(Path file, int no, String value) throws ConfigException {
    try {
      return Level.valueOf(value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(file, no, "a rule's level is off, note, warning or error; found `" + value + "`");
    }
  }
}
