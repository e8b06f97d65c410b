// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.lint;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Note;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.io.Escape;

/** The machine formats of lint results: JSON, SARIF 2.1.0, GitHub Actions annotations, checkstyle XML. */
public final class Formats {
  private Formats() {}

  /** GitHub shows at most this many annotations of each kind per step. */
  public static final int GITHUB_LIMIT = 10;

  // ---- JSON --------------------------------------------------------------------------------------

  public static String json(Linter.Result r, String version) {
    StringBuilder s = new StringBuilder();
    s.append("{\n  \"tool\": \"cnnc\",\n  \"version\": ").append(Escape.json(version)).append(",\n  \"diagnostics\": [");
    List<Diagnostic> ds = r.diagnostics();
    for (int i = 0; i < ds.size(); i++) {
      Diagnostic d = ds.get(i);
      Rule rule = r.rules().get(d.id());
      s.append(i == 0 ? "\n" : ",\n").append("    {");
      s.append("\"id\": ").append(Escape.json(d.id()));
      s.append(", \"severity\": ").append(Escape.json(d.severity().word()));
      s.append(", \"category\": ").append(Escape.json(rule.category().word()));
      s.append(", \"file\": ").append(Escape.json(d.span().file().name()));
      s.append(", \"line\": ").append(d.span().line());
      s.append(", \"column\": ").append(d.span().column());
      s.append(", \"endLine\": ").append(d.span().endLine());
      s.append(", \"endColumn\": ").append(d.span().endColumn());
      s.append(", \"message\": ").append(Escape.json(d.message()));
      s.append(", \"label\": ").append(Escape.json(d.label()));
      s.append(", \"notes\": [");
      for (int j = 0; j < d.notes().size(); j++) {
        Note n = d.notes().get(j);
        s.append(j == 0 ? "" : ", ").append("{\"message\": ").append(Escape.json(n.message()));
        if (n.span() != null) {
          s.append(", \"file\": ").append(Escape.json(n.span().file().name())).append(", \"line\": ").append(n.span().line())
              .append(", \"column\": ").append(n.span().column());
        }
        s.append('}');
      }
      s.append("], \"help\": ").append(Escape.json(d.help())).append('}');
    }
    s.append(ds.isEmpty() ? "],\n" : "\n  ],\n");
    s.append("  \"summary\": {\"errors\": ").append(r.count(Severity.ERROR)).append(", \"warnings\": ")
        .append(r.count(Severity.WARNING)).append(", \"notes\": ").append(r.count(Severity.NOTE)).append("}\n}\n");
    return s.toString();
  }

  // ---- SARIF 2.1.0 -------------------------------------------------------------------------------

  /**
   * A SARIF 2.1.0 log: every rule that reported (with its metadata and help), every result with its
   * location, the notes that point somewhere as related locations, and a partial fingerprint that
   * stays stable when lines move or the file is renamed (rule, the line's text, occurrence in the file).
   */
  public static String sarif(Linter.Result r, String version) {
    List<String> ids = new ArrayList<>(r.rules().keySet());
    StringBuilder s = new StringBuilder();
    s.append("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n");
    s.append("  \"runs\": [\n    {\n      \"tool\": {\n        \"driver\": {\n");
    s.append("          \"name\": \"cnnc\",\n          \"version\": ").append(Escape.json(version)).append(",\n");
    s.append("          \"rules\": [");
    for (int i = 0; i < ids.size(); i++) {
      Rule rule = r.rules().get(ids.get(i));
      s.append(i == 0 ? "\n" : ",\n").append("            {\"id\": ").append(Escape.json(rule.id()))
          .append(", \"name\": ").append(Escape.json(camel(rule.id())))
          .append(", \"shortDescription\": {\"text\": ").append(Escape.json(rule.purpose())).append('}')
          .append(", \"fullDescription\": {\"text\": ").append(Escape.json(rule.purpose())).append('}')
          .append(", \"help\": {\"text\": ").append(Escape.json(rule.help().isEmpty() ? rule.purpose() : rule.help())).append('}')
          .append(", \"defaultConfiguration\": {\"level\": ").append(Escape.json(level(rule.severity()))).append('}')
          .append(", \"properties\": {\"category\": ").append(Escape.json(rule.category().word())).append("}}");
    }
    s.append(ids.isEmpty() ? "]\n" : "\n          ]\n");
    s.append("        }\n      },\n      \"columnKind\": \"utf16CodeUnits\",\n      \"results\": [");
    Map<String, Integer> seen = new HashMap<>();
    List<Diagnostic> ds = r.diagnostics();
    for (int i = 0; i < ds.size(); i++) {
      Diagnostic d = ds.get(i);
      String lineText = d.span().file().lineText(d.span().line()).strip();
      String key = d.id() + "|" + lineText;
      int occurrence = seen.merge(d.span().file().name() + "|" + key, 1, Integer::sum);
      s.append(i == 0 ? "\n" : ",\n").append("        {\"ruleId\": ").append(Escape.json(d.id()))
          .append(", \"ruleIndex\": ").append(ids.indexOf(d.id()))
          .append(", \"level\": ").append(Escape.json(level(d.severity())))
          .append(", \"message\": {\"text\": ").append(Escape.json(d.message() + (d.help().isEmpty() ? "" : "; help: " + d.help())))
          .append("}, \"locations\": [").append(location(d.span(), null)).append(']');
      List<Note> related = d.notes().stream().filter(n -> n.span() != null).toList();
      if (!related.isEmpty()) {
        s.append(", \"relatedLocations\": [");
        for (int j = 0; j < related.size(); j++) {
          s.append(j == 0 ? "" : ", ").append(location(related.get(j).span(), related.get(j).message(), j));
        }
        s.append(']');
      }
      s.append(", \"partialFingerprints\": {\"primaryLocationLineHash\": ")
          .append(Escape.json(sha(key).substring(0, 16) + ":" + occurrence)).append("}}");
    }
    s.append(ds.isEmpty() ? "]\n" : "\n      ]\n");
    s.append("    }\n  ]\n}\n");
    return s.toString();
  }

  private static String location(org.cnnc.compiler.source.Span span, String message) {
    return location(span, message, -1);
  }

  private static String location(org.cnnc.compiler.source.Span span, String message, int id) {
    StringBuilder s = new StringBuilder("{");
    if (id >= 0) {
      s.append("\"id\": ").append(id).append(", ");
    }
    s.append("\"physicalLocation\": {\"artifactLocation\": {\"uri\": ").append(Escape.json(uri(span.file().name())))
        .append("}, \"region\": {\"startLine\": ").append(span.line()).append(", \"startColumn\": ").append(span.column())
        .append(", \"endLine\": ").append(span.endLine()).append(", \"endColumn\": ").append(Math.max(span.endColumn(), span.column() + (span.end() == span.start() ? 1 : 0)))
        .append("}}");
    if (message != null) {
      s.append(", \"message\": {\"text\": ").append(Escape.json(message)).append('}');
    }
    return s.append('}').toString();
  }

  /** A relative path as a URI reference (forward slashes, percent-encoded where needed). */
  static String uri(String path) {
    StringBuilder s = new StringBuilder();
    for (byte b : path.replace('\\', '/').getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (Character.isLetterOrDigit(c) && c < 128 || "-._~/".indexOf(c) >= 0) {
        s.append((char) c);
      } else {
        s.append('%').append(String.format(Locale.ROOT, "%02X", c));
      }
    }
    return s.toString();
  }

  static String level(Severity s) {
    return switch (s) {
      case ERROR -> "error";
      case WARNING -> "warning";
      case NOTE -> "note";
    };
  }

  private static String camel(String id) {
    StringBuilder s = new StringBuilder();
    for (String part : id.toLowerCase(Locale.ROOT).split("_")) {
      if (!part.isEmpty()) {
        s.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
      }
    }
    return s.toString();
  }

  // ---- GitHub Actions ----------------------------------------------------------------------------

  /**
   * Workflow commands GitHub turns into annotations. GitHub shows at most ten of each kind per
   * step; the rest are printed as plain lines after a summary annotation that says how many. Every
   * text is escaped for the runner (see {@link Escape#githubData}), annotations and plain lines alike.
   */
  public static String github(Linter.Result r) {
    StringBuilder s = new StringBuilder();
    Map<Severity, Integer> shown = new HashMap<>();
    List<Diagnostic> rest = new ArrayList<>();
    for (Diagnostic d : r.diagnostics()) {
      int n = shown.merge(d.severity(), 1, Integer::sum);
      if (n > GITHUB_LIMIT) {
        rest.add(d);
        continue;
      }
      String kind = d.severity() == Severity.ERROR ? "error" : d.severity() == Severity.WARNING ? "warning" : "notice";
      s.append("::").append(kind)
          .append(" file=").append(Escape.githubProperty(d.span().file().name()))
          .append(",line=").append(d.span().line())
          .append(",col=").append(d.span().column())
          .append(",endLine=").append(d.span().endLine())
          .append(",endColumn=").append(d.span().endColumn())
          .append(",title=").append(Escape.githubProperty("cnnc " + d.id()))
          .append("::").append(Escape.githubData(d.message() + (d.help().isEmpty() ? "" : "\nhelp: " + d.help())))
          .append('\n');
    }
    if (!rest.isEmpty()) {
      s.append("::warning title=cnnc::").append(Escape.githubData(rest.size() + " more diagnostics are not shown as annotations "
          + "(GitHub shows " + GITHUB_LIMIT + " of each kind per step); they follow in the log")).append('\n');
      for (Diagnostic d : rest) {
        s.append(Escape.githubLine(d.span().location() + ": " + d.severity().word() + ": " + d.message() + " ["
            + d.id() + "]")).append('\n');
      }
    }
    return s.toString();
  }


  // ---- checkstyle --------------------------------------------------------------------------------

  public static String checkstyle(Linter.Result r) {
    StringBuilder s = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">\n");
    String file = null;
    for (Diagnostic d : r.diagnostics()) {
      if (!d.span().file().name().equals(file)) {
        if (file != null) {
          s.append("  </file>\n");
        }
        file = d.span().file().name();
        s.append("  <file name=\"").append(Escape.xml(file)).append("\">\n");
      }
      s.append("    <error line=\"").append(d.span().line()).append("\" column=\"").append(d.span().column())
          .append("\" severity=\"").append(d.severity() == Severity.NOTE ? "info" : d.severity().word())
          .append("\" message=\"").append(Escape.xml(d.message())).append("\" source=\"").append(Escape.xml("cnnc." + d.id())).append("\"/>\n");
    }
    if (file != null) {
      s.append("  </file>\n");
    }
    return s.append("</checkstyle>\n").toString();
  }


  // ---- helpers -----------------------------------------------------------------------------------


  private static String sha(String v) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(v.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
