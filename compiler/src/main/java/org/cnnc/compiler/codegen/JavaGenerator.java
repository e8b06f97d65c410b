// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.ir.ModulePath;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.ir.Scope;
import org.cnnc.compiler.sema.Binder;
import org.cnnc.compiler.sema.Resolution;
import org.cnnc.compiler.sema.Evaluator;
import org.cnnc.compiler.sema.Program;
import org.cnnc.compiler.source.Span;
import org.cnnc.compiler.sema.Type;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.ParamSig;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.summary.Summary;
import org.cnnc.compiler.summary.SummaryRenderer;

/**
 * Generates the Java class of a model: it builds the network on cnnc's runtime
 * ({@code org.cnnc.runtime.NetBuilder}) for Deeplearning4j. The code follows the spec: one method
 * per block, the model's body in {@code build}, loops for {@code repeat}; module names are computed
 * exactly as the compiler names parameter paths, so the built graph's vertices carry PyTorch's
 * module paths. The input is a checked network: this class never reports user errors.
 *
 * <p>Output is deterministic: the same spec gives byte-identical source.
 */
public final class JavaGenerator {
  static final String RUNTIME = "org.cnnc.runtime";
  static final ClassName NET_BUILDER = ClassName.get(RUNTIME, "NetBuilder");
  static final ClassName SEQ = ClassName.get(ModulePath.class);
  static final ClassName LOSS = ClassName.get(RUNTIME, "Loss");
  static final ClassName CNN_MODEL = ClassName.get(RUNTIME, "CnnModel");

  private final Network net;
  private final Program program;
  private final ModelDecl model;
  private final Map<String, BlockDecl> blocks = new LinkedHashMap<>();
  private final Map<String, String> blockMethods = new LinkedHashMap<>();
  private final Map<String, Map<String, JType>> blockParamTypes = new LinkedHashMap<>();
  private final NameAllocator classNames = new NameAllocator();
  private final Function<SourceFile, String> sourceName;
  /** Classes generated beside this one, in the same run (see {@link #generate(Network, Program, String, Function, Set)}). */
  private Set<String> siblings = Set.of();
  /** Whether the code converts a value to a size ({@code NetBuilder.size}, imported statically). */
  private boolean usesSize;

  private JavaGenerator(Network net, Program program, Function<SourceFile, String> sourceName) {
    this.net = net;
    this.program = program;
    this.sourceName = sourceName;
    this.model = program.models().stream()
        .filter(m -> m.name().text().equals(net.name()) && m.span().samePlace(net.span()))
        .findFirst().orElseThrow(() -> new IllegalArgumentException("no model " + net.name()));
  }

  /** The Java source of a network's class; files are named by their file name only. */
  public static JavaFile generate(Network net, Program program, String packageOverride) {
    return generate(net, program, packageOverride, JavaGenerator::fileName);
  }

  /**
   * The Java source of a network's class; {@code sourceName} names spec files in comments (the path
   * below the source root: never an absolute path, so builds are reproducible).
   */
  public static JavaFile generate(Network net, Program program, String packageOverride,
      Function<SourceFile, String> sourceName) {
    return generate(net, program, packageOverride, sourceName, Set.of());
  }

  /**
   * As above; {@code siblings} are the classes generated beside this one: a class of the same
   * package shadows {@code java.lang} (a model named {@code Math} or {@code Override}), so types with
   * those simple names are written qualified.
   */
  public static JavaFile generate(Network net, Program program, String packageOverride,
      Function<SourceFile, String> sourceName, Set<String> siblings) {
    JavaGenerator g = new JavaGenerator(net, program, sourceName);
    g.siblings = siblings;
    return g.file(packageOverride);
  }

  /** The last element of a spec's name: {@code models.cnn} for {@code /home/me/models.cnn}. */
  public static String fileName(SourceFile f) {
    String name = f.path() != null && f.path().getFileName() != null ? f.path().getFileName().toString() : f.name();
    return name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  }

  /** The model's arguments as a spec would write them: {@code classes = 1000}. */
  private String shownArgs() {
    return net.modelArgs().entrySet().stream().map(e -> e.getKey() + " = " + e.getValue().show())
        .collect(Collectors.joining(", "));
  }

  // ---- types of values in Java -------------------------------------------------------------------

  enum JType {
    INT(TypeName.INT), DOUBLE(TypeName.DOUBLE), BOOL(TypeName.BOOLEAN), STRING(ClassName.get(String.class)),
    INTS(ArrayTypeName.of(TypeName.INT)), LIST(ArrayTypeName.of(TypeName.INT)),
    /** A list holding a float: upsample's {@code scale = [1.5, 2]}. */
    DOUBLES(ArrayTypeName.of(TypeName.DOUBLE));

    final TypeName java;

    JType(TypeName java) {
      this.java = java;
    }

    static JType of(Value v) {
      if (v instanceof Value.IntV) {
        return INT;
      }
      if (v instanceof Value.FloatV) {
        return DOUBLE;
      }
      if (v instanceof Value.BoolV) {
        return BOOL;
      }
      if (v instanceof Value.ListV l) {
        return l.items().stream().anyMatch(x -> x instanceof Value.FloatV) ? DOUBLES : INTS;
      }
      return STRING;
    }

    static JType of(Type t) {
      return switch (t) {
        case INT -> INT;
        case FLOAT -> DOUBLE;
        case BOOL -> BOOL;
        case SIZE, PADDING4, SHAPE -> INTS;
        default -> STRING;
      };
    }

    /** The type that holds both (an int and a pair are both sizes; an int and a float are floats). */
    static JType join(JType a, JType b) {
      if (a == null || a == b) {
        return b;
      }
      if ((a == INT && b == DOUBLE) || (a == DOUBLE && b == INT)) {
        return DOUBLE;
      }
      if ((a == INT && b == INTS) || (a == INTS && b == INT)) {
        return INTS;
      }
      return STRING;
    }
  }

  /** An expression in Java: its code, its type, its precedence (3 atoms, 2 * / %, 1 + -), list items. */
  record JExpr(CodeBlock code, JType type, int prec, List<JExpr> items) {
    static JExpr atom(CodeBlock code, JType type) {
      return new JExpr(code, type, 3, List.of());
    }
  }

  // ---- the file ------------------------------------------------------------------------------------

  private JavaFile file(String packageOverride) {
    String pkg = packageOverride != null ? packageOverride : net.javaPackage().orElse("");
    for (BlockDecl b : program.blocksUsed(model)) {
      blocks.putIfAbsent(b.name().text(), b);
    }
    classNames.newName("build");
    classNames.newName("name");
    for (String block : blocks.keySet()) {
      blockMethods.put(block, classNames.newName(lowerCamel(block)));
      blockParamTypes.put(block, paramTypes(blocks.get(block)));
    }
    ClassName self = ClassName.get(pkg, javaClassName(net.name()));
    TypeSpec.Builder type = TypeSpec.classBuilder(self)
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .addSuperinterface(CNN_MODEL)
        .addJavadoc(classDoc());
    siblings.stream().filter(n -> !n.equals(self.simpleName())).sorted().forEach(type::alwaysQualify);
    NameAllocator fields = new NameAllocator();
    Map<String, String> modelVars = new LinkedHashMap<>();
    List<Param> params = model.params();
    MethodSpec.Builder ctor = MethodSpec.constructorBuilder().addModifiers(Modifier.PUBLIC)
        .addJavadoc("The model with the given arguments.\n");
    List<String> defaults = new ArrayList<>();
    for (Param p : params) {
      String field = fields.newName(lowerCamel(p.name().text()));
      modelVars.put(p.name().text(), field);
      Value v = net.modelArgs().get(p.name().text());
      JType t = JType.of(v);
      type.addField(FieldSpec.builder(t.java, field, Modifier.PRIVATE, Modifier.FINAL).build());
      ctor.addParameter(t.java, field).addStatement("this.$N = $N", field, field);
      defaults.add(literal(v).toString());
    }
    if (!params.isEmpty()) {
      type.addMethod(MethodSpec.constructorBuilder().addModifiers(Modifier.PUBLIC)
          .addJavadoc("The model with the arguments it was generated with: $L.\n", JavaText.comment(shownArgs()))
          .addStatement("this($L)", String.join(", ", defaults))
          .build());
      type.addMethod(ctor.build());
    }
    type.addMethod(MethodSpec.methodBuilder("name").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
        .returns(String.class).addStatement("return $L", JavaText.literal(net.name())).build());
    type.addMethod(MethodSpec.methodBuilder("outputNames").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
        .returns(ParameterizedTypeName.get(List.class, String.class))
        .addStatement("return $T.of($L)", List.class, net.outputs().stream().map(o -> JavaText.literal(o.name()).toString())
            .collect(Collectors.joining(", ")))
        .build());
    buildMethods(modelVars).forEach(type::addMethod);
    for (String block : blocks.keySet()) {
      blockMethodsOf(blocks.get(block)).forEach(type::addMethod);
    }
    JavaFile.Builder file = JavaFile.builder(pkg, type.build());
    if (usesSize) {
      file.addStaticImport(NET_BUILDER, "size");
    }
    return file
        .addFileComment("Generated by cnnc from $L. Do not edit: change the spec and generate again.",
            JavaText.comment(sourceName.apply(net.span().file())))
        .skipJavaLangImports(true)
        .indent("    ")
        .build();
  }

  private CodeBlock classDoc() {
    Summary s = new Summary(net);
    CodeBlock.Builder doc = CodeBlock.builder();
    doc.add("The network {@code $L} of {@code $L}, line $L.\n\n", JavaText.comment(net.name()),
        JavaText.comment(sourceName.apply(net.span().file())), net.span().line());
    doc.add("<p>$L parameters", SummaryRenderer.num(s.params()));
    if (s.buffers() > 0) {
      doc.add(" and $L BatchNorm running-statistic elements (DL4J's {@code numParams()} counts both: $L)",
          SummaryRenderer.num(s.buffers()), SummaryRenderer.num(s.params() + s.buffers()));
    }
    doc.add("; $L multiply-accumulates per example", SummaryRenderer.num(s.macs()));
    if (!net.modelArgs().isEmpty()) {
      doc.add(", with $L", JavaText.comment(shownArgs()));
    }
    doc.add(".\n\n<p>Input $L. Outputs:\n<ul>\n", net.node(net.inputs().get(0)).shape());
    for (Summary.OutputFigures o : s.outputs()) {
      doc.add("  <li>{@code $L} $L, loss $L, weight $L\n", JavaText.comment(o.output().name()), o.shape(),
          JavaText.comment(o.output().loss()), Value.formatFloat(o.output().weight()));
    }
    doc.add("</ul>\n\n<p>These figures are those of the arguments above; {@code figures()} gives an instance's own.\n");
    return doc.build();
  }

  /**
   * The top-level items of a model between two splits of {@code build}: a JVM method holds at most
   * 64 KB of bytecode, which about 4,000 layers written one after the other exceed ("code too
   * large"). Past this many items, {@code build} goes on in a helper method that receives the
   * builder, the root sequence, the current node and the labels read later.
   */
  static final int ITEMS_PER_METHOD = 200;

  private List<MethodSpec> buildMethods(Map<String, String> modelVars) {
    MethodSpec.Builder m = MethodSpec.methodBuilder("build").addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC).addParameter(NET_BUILDER, "b");
    NameAllocator names = new NameAllocator();
    for (String reserved : List.of("b", "s", "x", "i", "j", "k")) {
      names.newName(reserved);
    }
    Map<String, Var> vars = new LinkedHashMap<>();
    modelVars.forEach((spec, java) -> vars.put(spec, new Var("this." + java, JType.of(net.modelArgs().get(spec)))));
    Body body = new Body(m, names, vars, referenced(model.body(), program));
    body.splitter = true;
    body.splitPrefix = "buildPart";
    body.splitOf = "build";
    m.addStatement("$T s = b.root()", SEQ);
    m.addStatement("$T x", String.class);
    for (Stmt st : model.body().stmts()) {
      if (st instanceof InputStmt in) {
        String name = in.name().map(Ident::text).orElse("input");
        List<String> dims = new ArrayList<>();
        for (Expr e : in.shape().dims()) {
          dims.add(body.expr(e).code().toString());
        }
        body.m.addStatement("x = b.input($L, $L)", JavaText.literal(name), String.join(", ", dims));
        body.remember(in.name().map(Ident::span).orElse(in.span()), name, "x");
      } else if (st instanceof ChainStmt c) {
        body.chainStmt(c, "x", "s");
      } else if (st instanceof OutputStmt o) {
        body.output(o);
      }
    }
    if (model.body().stmts().stream().noneMatch(OutputStmt.class::isInstance)) {
      Output o = net.outputs().get(0);
      body.m.addStatement("b.output($L, x, $T.$L, $L)", JavaText.literal(o.name()), LOSS, o.loss().toUpperCase(Locale.ROOT), Value.formatFloat(o.weight()));
    }
    List<MethodSpec> methods = new ArrayList<>();
    body.done.forEach(d -> methods.add(d.build()));
    methods.add(body.m.build());
    return methods;
  }

  private List<MethodSpec> blockMethodsOf(BlockDecl block) {
    String method = blockMethods.get(block.name().text());
    MethodSpec.Builder m = MethodSpec.methodBuilder(method)
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC)
        .returns(String.class)
        .addJavadoc("Block {@code $L} ($L:$L): adds an instance named {@code name} reading {@code in}; returns its output.\n",
            JavaText.comment(block.name().text()), JavaText.comment(sourceName.apply(block.span().file())),
            block.span().line())
        .addParameter(NET_BUILDER, "b")
        .addParameter(String.class, "name")
        .addParameter(String.class, "in");
    NameAllocator names = new NameAllocator();
    for (String reserved : List.of("b", "name", "in", "s", "x", "i", "j", "k")) {
      names.newName(reserved);
    }
    Map<String, Var> vars = new LinkedHashMap<>();
    Map<String, JType> types = blockParamTypes.get(block.name().text());
    for (Param p : block.params()) {
      String java = names.newName(lowerCamel(p.name().text()));
      JType t = types.get(p.name().text());
      vars.put(p.name().text(), new Var(java, t));
      m.addParameter(t.java, java);
    }
    Body body = new Body(m, names, vars, referenced(block.body(), program));
    body.splitter = true;
    body.splitPrefix = method + "Part";
    body.splitOf = method;
    body.partsStatic = true;
    body.passed = List.copyOf(vars.values());
    m.addStatement("$T s = b.seq(name)", SEQ);
    m.addStatement("$T x = in", String.class);
    body.statements(block.body(), "x", "s");
    body.m.addStatement("return x");
    List<MethodSpec> methods = new ArrayList<>();
    body.done.forEach(d -> methods.add(d.build()));
    methods.add(body.m.build());
    return methods;
  }

  record Var(String java, JType type) {}

  /** A label's declaration by its place (spans themselves compare equal, for the AST's equality). */
  record Place(SourceFile file, int start, int end) {
    static Place of(Span s) {
      return new Place(s.file(), s.start(), s.end());
    }
  }

  /** Writes the statements of one method. */
  private final class Body {
    /** The method being written: the model's {@code build} moves on to helper methods (see {@link #ITEMS_PER_METHOD}). */
    MethodSpec.Builder m;
    /** Whether the method splits (the model's {@code build} and blocks' methods do), and how. */
    boolean splitter;
    String splitPrefix;
    String splitOf;
    /** A block's helper methods are static and return the block's output. */
    boolean partsStatic;
    /** The variables (a block's parameters) every helper method receives. */
    List<Var> passed = List.of();
    int items;
    /** The methods finished by splits, in order. */
    final List<MethodSpec.Builder> done = new ArrayList<>();
    final NameAllocator names;
    final Map<String, Var> vars;
    /** The declarations (label spans) a `from` reads, and the Java variable holding each one's node. */
    final Set<Place> referenced;
    final Map<Place, String> labels = new LinkedHashMap<>();
    int loops;

    Body(MethodSpec.Builder m, NameAllocator names, Map<String, Var> vars, Set<Place> referenced) {
      this.m = m;
      this.names = names;
      this.vars = vars;
      this.referenced = referenced;
    }

    void remember(Span declaration, String label, String from) {
      Place at = Place.of(declaration);
      if (referenced.contains(at) && !labels.containsKey(at)) {
        String v = names.newName(lowerCamel(label));
        labels.put(at, v);
        m.addStatement("$T $N = $N", String.class, v, from);
      }
    }

    void statements(org.cnnc.compiler.ast.Ast.Body body, String x, String seq) {
      for (Stmt st : body.stmts()) {
        if (st instanceof ChainStmt c) {
          chainStmt(c, x, seq);
        }
      }
    }

    void chainStmt(ChainStmt c, String x, String seq) {
      c.from().ifPresent(f -> m.addStatement("$N = $N", x, read(f)));
      chain(c.chain(), x, seq);
    }

    void chain(Chain c, String x, String seq) {
      for (Element e : c.elements()) {
        if (splitter && loops == 0 && x.equals("x") && seq.equals("s") && ++items > ITEMS_PER_METHOD) {
          split();
        }
        boolean inline = e.term() instanceof Repeat && e.label().isEmpty();
        CodeBlock name = inline ? null
            : e.label().isPresent() ? CodeBlock.of("$N.named($L)", seq, label(e)) : CodeBlock.of("$N.next()", seq);
        element(e, x, x, seq, name, e.label().isPresent());
      }
    }

    /**
     * Ends the current method with a call of a new one, which receives every live variable: the
     * builder, the sequence, the current node, the block's parameters and the labels read later.
     */
    void split() {
      items = 1;
      String part = classNames.newName(splitPrefix);
      StringBuilder args = new StringBuilder("b, s, x");
      MethodSpec.Builder next = MethodSpec.methodBuilder(part).addModifiers(Modifier.PRIVATE)
          .addJavadoc("The items of {@code $L} after the first $L (a method's bytecode is limited to 64 KB).\n",
              splitOf, ITEMS_PER_METHOD * (done.size() + 1))
          .addParameter(NET_BUILDER, "b").addParameter(SEQ, "s").addParameter(String.class, "x");
      if (partsStatic) {
        next.addModifiers(Modifier.STATIC).returns(String.class);
      }
      for (Var v : passed) {
        args.append(", ").append(v.java());
        next.addParameter(v.type().java, v.java());
      }
      for (String v : labels.values()) {
        args.append(", ").append(v);
        next.addParameter(String.class, v);
      }
      if (partsStatic) {
        m.addStatement("return $N($L)", part, args);
      } else {
        m.addStatement("$N($L)", part, args);
      }
      done.add(m);
      m = next;
    }

    void output(OutputStmt o) {
      String start = o.from().map(f -> read(f)).orElse("x");
      Output out = net.output(o.name().text()).orElseThrow();
      String v = names.newName(lowerCamel(o.name().text()) + "Out");
      m.addStatement("$T $N = $N", String.class, v, start);
      if (o.chain().isPresent()) {
        List<Element> els = o.chain().get().elements();
        if (els.size() == 1 && els.get(0).label().isEmpty()) {
          element(els.get(0), v, v, "s", CodeBlock.of("s.child($L)", JavaText.literal(o.name().text())), true);
        } else {
          chain(o.chain().get(), v, "s");
        }
      }
      m.addStatement("b.output($L, $N, $T.$L, $L)", JavaText.literal(out.name()), v, LOSS, out.loss().toUpperCase(Locale.ROOT),
          Value.formatFloat(out.weight()));
    }

    /** Emits one element: {@code out = <element>(in)}; {@code name} is the module path expression. */
    void element(Element e, String in, String out, String seq, CodeBlock name, boolean named) {
      Term t = e.term();
      if (t instanceof Call c) {
        m.addStatement("$N = $L", out, call(c, in, name));
      } else if (t instanceof Group g) {
        String gs = names.newName(labelHint(e, "group") + "Seq");
        m.addStatement("$T $N = b.seq($L)", SEQ, gs, name);
        if (!in.equals(out)) {
          m.addStatement("$N = $N", out, in);
        }
        for (Stmt st : g.body().stmts()) {
          if (st instanceof ChainStmt c) {
            c.from().ifPresent(f -> m.addStatement("$N = $N", out, read(f)));
            chain(c.chain(), out, gs);
          }
        }
      } else if (t instanceof Merge mg) {
        merge(mg, named, in, out, seq, name);
      } else {
        Repeat r = (Repeat) t;
        String target = seq;
        if (named) {
          target = names.newName(labelHint(e, "repeat") + "Seq");
          m.addStatement("$T $N = b.seq($L)", SEQ, target, name);
        }
        if (!in.equals(out)) {
          m.addStatement("$N = $N", out, in);
        }
        // anonymous loops count with i, j, k by depth (reserved names); a named counter keeps its
        // name when it is its depth's, else it gets a name of its own
        String i = loopVar(loops);
        if (r.var().isPresent() && !r.var().get().text().equals(i)) {
          i = names.newName(lowerCamel(r.var().get().text()));
        }
        // the counter is the body's name for the loop variable (the resolver refuses one hiding a name)
        String counter = i;
        r.var().ifPresent(v -> vars.put(v.text(), new Var(counter, JType.INT)));
        loops++;
        m.beginControlFlow("for (int $L = 0; $L < $L; $L++)", i, i, expr(r.count()).code(), i);
        for (Stmt st : r.body().stmts()) {
          if (st instanceof ChainStmt c) {
            // `chain from name` in a repeat reads that node in every repetition
            c.from().ifPresent(f -> m.addStatement("$N = $N", out, read(f)));
            chain(c.chain(), out, target);
          }
        }
        m.endControlFlow();
        loops--;
        r.var().ifPresent(v -> vars.remove(v.text()));
      }
      if (e.numbered().isEmpty()) { // a numbered label is no name `from` reads
        e.label().ifPresent(l -> remember(l.span(), l.text(), out));
      }
    }

    /** The Java variable holding the node a `from` reads: its declaration, as the checker resolved it. */
    String read(Ident ref) {
      return labels.get(Place.of(program.resolution().declarationOf(ref).orElseThrow()));
    }

    private static String loopVar(int depth) {
      return depth < 3 ? "ijk".substring(depth, depth + 1) : "i" + depth;
    }

    /**
     * An element's label as a Java string expression: a literal, or for a numbered label the
     * concatenation of its texts and values ({@code "denselayer" + (i + 1)}).
     */
    CodeBlock label(Element e) {
      if (e.numbered().isEmpty()) {
        return JavaText.literal(e.label().orElseThrow().text());
      }
      var n = e.numbered().get();
      List<CodeBlock> parts = new ArrayList<>();
      parts.add(JavaText.literal(n.texts().get(0)));
      for (int k = 0; k < n.exprs().size(); k++) {
        JExpr x = expr(n.exprs().get(k));
        parts.add(x.prec() < 3 ? CodeBlock.of("($L)", x.code()) : x.code());
        if (!n.texts().get(k + 1).isEmpty()) {
          parts.add(JavaText.literal(n.texts().get(k + 1)));
        }
      }
      return CodeBlock.join(parts, " + ");
    }

    /** A Java name's stem for an element's label: the label, or a numbered label's first text, or {@code fallback}. */
    String labelHint(Element e, String fallback) {
      if (e.label().isEmpty()) {
        return fallback;
      }
      String text = e.numbered().map(n -> n.texts().get(0)).orElse(e.label().get().text());
      return text.isEmpty() ? fallback : lowerCamel(text);
    }

    void merge(Merge mg, boolean labeled, String in, String out, String seq, CodeBlock name) {
      String ms = seq;
      String node;
      if (labeled) {
        ms = names.newName("mergeSeq");
        m.addStatement("$T $N = b.seq($L)", SEQ, ms, name);
        node = ms + ".path()";
      } else {
        node = names.newName("merge");
        m.addStatement("$T $N = $L", String.class, node, name);
      }
      List<String> branchVars = new ArrayList<>();
      for (int j = 0; j < mg.branches().size(); j++) {
        Branch br = mg.branches().get(j);
        String start = br.from().map(f -> read(f)).orElse(in);
        Optional<Chain> chain = br.chain();
        String v = names.newName(chain.isPresent() && chain.get().elements().size() == 1
            ? labelHint(chain.get().elements().get(0), "branch" + j) : "branch" + j);
        branchVars.add(v);
        m.addStatement("$T $N = $N", String.class, v, start);
        if (chain.isEmpty()) {
          continue;
        }
        List<Element> els = chain.get().elements();
        CodeBlock unlabeled = labeled ? CodeBlock.of("$N.child($L)", ms, JavaText.literal(Integer.toString(j)))
            : CodeBlock.of("$N + $L", node, JavaText.literal("." + j));
        if (els.size() == 1) {
          Element el = els.get(0);
          String branchSeq = ms;
          CodeBlock bn = el.label().isPresent() ? CodeBlock.of("$N.child($L)", branchSeq, label(el)) : unlabeled;
          element(el, v, v, ms, bn, el.label().isPresent());
        } else {
          String bs = names.newName("branch" + j + "Seq");
          m.addStatement("$T $N = b.seq($L)", SEQ, bs, unlabeled);
          chain(chain.get(), v, bs);
        }
      }
      String joined = String.join(", ", branchVars);
      m.addStatement("$N = b.merge($L, $L, $L)", out, node, JavaText.literal(mg.name()), joined);
    }

    CodeBlock call(Call c, String in, CodeBlock name) {
      // the resolver's binding: what the call names and which expression gives each parameter
      Resolution.Binding binding = program.resolution().of(c).orElseThrow();
      Binder.Bound bound = binding.bound();
      if (binding.isOp()) {
        OpDef op = binding.op();
        // the arguments the spec gives, by name; the runtime binds them, with the registry's defaults
        List<CodeBlock> args = new ArrayList<>();
        args.add(name);
        args.add(JavaText.literal(op.name()));
        args.add(CodeBlock.of("$N", in));
        for (ParamSig p : op.params()) {
          Expr e = bound.args().get(p.name());
          if (e != null) {
            args.add(JavaText.literal(p.name()));
            args.add(expr(e).code());
          }
        }
        return CodeBlock.of("b.op($L)", CodeBlock.join(args, ", "));
      }
      BlockDecl block = binding.block();
      String callee = block.name().text();
      List<CodeBlock> args = new ArrayList<>();
      args.add(CodeBlock.of("b"));
      args.add(name);
      args.add(CodeBlock.of("$N", in));
      Map<String, JType> types = blockParamTypes.get(callee);
      Map<String, CodeBlock> given = new LinkedHashMap<>();
      for (Param p : block.params()) {
        Expr e = bound.args().get(p.name().text());
        JType t = types.get(p.name().text());
        CodeBlock arg;
        if (e != null) {
          arg = convertTo(expr(e), t);
        } else {
          // A default: evaluated in the callee's terms, with the earlier arguments substituted.
          Map<String, Var> callee_ = new LinkedHashMap<>();
          given.forEach((k, v) -> callee_.put(k, new Var("(" + v + ")", types.get(k))));
          arg = convertTo(new Body(m, names, callee_, Set.of()).expr(p.defaultValue().orElseThrow()), t);
        }
        given.put(p.name().text(), arg);
        args.add(arg);
      }
      return CodeBlock.of("$N($L)", blockMethods.get(callee), CodeBlock.join(args, ", "));
    }

    JExpr expr(Expr e) {
      if ((e instanceof Unary || e instanceof Binary) && Evaluator.isConstant(e)) {
        // emitted as the compiler computed it (in 64 bits, checked), never recomputed in Java's int
        Value v = Evaluator.eval(e, Map.of(), d -> { });
        return JExpr.atom(literal(v), JType.of(v));
      }
      if (e instanceof IntLit i) {
        return JExpr.atom(CodeBlock.of("$L", i.value()), JType.INT);
      }
      if (e instanceof FloatLit f) {
        return JExpr.atom(CodeBlock.of("$L", Double.toString(f.value())), JType.DOUBLE);
      }
      if (e instanceof BoolLit b) {
        return JExpr.atom(CodeBlock.of("$L", b.value()), JType.BOOL);
      }
      if (e instanceof StringLit s) {
        return JExpr.atom(JavaText.literal(s.value()), JType.STRING);
      }
      if (e instanceof NameRef n) {
        Var v = vars.get(n.name().text());
        return JExpr.atom(CodeBlock.of("$L", v.java()), v.type());
      }
      if (e instanceof ListExpr l) {
        List<JExpr> items = l.items().stream().map(this::expr).toList();
        if (items.stream().anyMatch(x -> x.type() == JType.DOUBLE)) {
          // a list of numbers (upsample's scale), which the runtime binds as a double[]
          return JExpr.atom(CodeBlock.of("new double[] {$L}",
              CodeBlock.join(items.stream().map(JExpr::code).toList(), ", ")), JType.DOUBLES);
        }
        return new JExpr(CodeBlock.of("new int[] {$L}", CodeBlock.join(items.stream().map(JExpr::code).toList(), ", ")),
            JType.LIST, 3, items);
      }
      if (e instanceof Unary u) {
        JExpr x = expr(u.operand());
        return JExpr.atom(CodeBlock.of("-$L", x.prec() < 3 ? CodeBlock.of("($L)", x.code()) : x.code()), x.type());
      }
      Binary b = (Binary) e;
      JExpr l = expr(b.left());
      JExpr r = expr(b.right());
      JType t = l.type() == JType.DOUBLE || r.type() == JType.DOUBLE ? JType.DOUBLE : JType.INT;
      if (t == JType.INT && (b.op() == '/' || b.op() == '%')) {
        return JExpr.atom(CodeBlock.of("$T.$L($L, $L)", Math.class, b.op() == '/' ? "floorDiv" : "floorMod",
            l.code(), r.code()), t);
      }
      int prec = b.op() == '+' || b.op() == '-' ? 1 : 2;
      CodeBlock lc = l.prec() < prec ? CodeBlock.of("($L)", l.code()) : l.code();
      boolean rightParens = r.prec() < prec || (r.prec() == prec && (b.op() == '-' || b.op() == '/' || b.op() == '%'));
      CodeBlock rc = rightParens ? CodeBlock.of("($L)", r.code()) : r.code();
      return new JExpr(CodeBlock.of("$L $L $L", lc, b.op(), rc), t, prec, List.of());
    }
  }

  /**
   * An expression as the Java type of a block parameter: where the parameter holds sizes, an int
   * or a list becomes one ({@code size(3)}, {@code size(3, 1)}); op arguments need no conversion
   * (the runtime binds them).
   */
  private CodeBlock convertTo(JExpr e, JType target) {
    if (target == JType.INTS && (e.type() == JType.INT || e.type() == JType.LIST)) {
      usesSize = true;
      List<CodeBlock> items = e.type() == JType.INT ? List.of(e.code()) : e.items().stream().map(JExpr::code).toList();
      return CodeBlock.of("size($L)", CodeBlock.join(items, ", "));
    }
    return e.code();
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private Map<String, JType> paramTypes(BlockDecl block) {
    Map<String, JType> out = new LinkedHashMap<>();
    List<Scope> instances = net.root().descendants().stream()
        .filter(s -> s.kind() == Scope.Kind.BLOCK && block.name().text().equals(s.blockName())).toList();
    for (Param p : block.params()) {
      Type declared = p.type().flatMap(t -> Type.byKeyword(t.text())).orElse(Type.ANY);
      JType t = null;
      if (declared != Type.ANY) {
        t = JType.of(declared);
      } else {
        for (Scope s : instances) {
          Value v = s.args().get(p.name().text());
          if (v != null) {
            t = JType.join(t, JType.of(v));
          }
        }
      }
      out.put(p.name().text(), t == null ? JType.INT : t);
    }
    return out;
  }

  /** The declarations a `from` reads (as the checker resolved each), in a body and everything nested in it. */
  private static Set<Place> referenced(org.cnnc.compiler.ast.Ast.Body body, Program program) {
    Set<Place> out = new LinkedHashSet<>();
    java.util.function.Consumer<Ident> ref = f -> program.resolution().declarationOf(f).map(Place::of).ifPresent(out::add);
    referencedIn(body, ref);
    return out;
  }

  private static void referenced(Chain c, java.util.function.Consumer<Ident> ref) {
    for (Element e : c.elements()) {
      Term t = e.term();
      if (t instanceof Group g) {
        referencedIn(g.body(), ref);
      } else if (t instanceof Repeat r) {
        referencedIn(r.body(), ref);
      } else if (t instanceof Merge m) {
        for (Branch b : m.branches()) {
          b.from().ifPresent(ref);
          b.chain().ifPresent(ch -> referenced(ch, ref));
        }
      }
    }
  }

  private static void referencedIn(org.cnnc.compiler.ast.Ast.Body body, java.util.function.Consumer<Ident> ref) {
    for (Stmt st : body.stmts()) {
      if (st instanceof ChainStmt c) {
        c.from().ifPresent(ref);
        referenced(c.chain(), ref);
      } else if (st instanceof OutputStmt o) {
        o.from().ifPresent(ref);
        o.chain().ifPresent(ch -> referenced(ch, ref));
      }
    }
  }

  static CodeBlock literal(Value v) {
    if (v instanceof Value.IntV i) {
      return CodeBlock.of("$L", i.value());
    }
    if (v instanceof Value.FloatV f) {
      return CodeBlock.of("$L", Double.toString(f.value()));
    }
    if (v instanceof Value.BoolV b) {
      return CodeBlock.of("$L", b.value());
    }
    if (v instanceof Value.ListV l) {
      return CodeBlock.of(JType.of(v) == JType.DOUBLES ? "new double[] {$L}" : "new int[] {$L}", l.items().stream().map(x -> literal(x).toString()).collect(Collectors.joining(", ")));
    }
    return JavaText.literal(v instanceof Value.StrV s ? s.value() : v.show());
  }

  /** {@code BasicConv} to {@code basicConv}, {@code feature_part} to {@code featurePart}. */
  static String lowerCamel(String s) {
    StringBuilder out = new StringBuilder();
    boolean upper = false;
    for (char c : s.toCharArray()) {
      if (c == '_' || c == '-') { // `-`: a quoted label (`"block1-0"` becomes block10)
        upper = out.length() > 0;
        continue;
      }
      out.append(upper ? Character.toUpperCase(c) : c);
      upper = false;
    }
    if (out.length() == 0) {
      return "v";
    }
    out.setCharAt(0, Character.toLowerCase(out.charAt(0)));
    return out.toString();
  }

  public static String javaClassName(String s) {
    String camel = lowerCamel(s);
    return Character.toUpperCase(camel.charAt(0)) + camel.substring(1);
  }
}
