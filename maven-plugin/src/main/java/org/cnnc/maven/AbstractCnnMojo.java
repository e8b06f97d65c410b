// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import java.io.File;
import java.io.IOException;
import java.util.List;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Component;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Severity;
import org.codehaus.plexus.build.BuildContext;

/** The parameters and reporting every goal shares; the work is {@link CnnBuild}'s. */
abstract class AbstractCnnMojo extends AbstractMojo {
  @Parameter(defaultValue = "${project}", readonly = true, required = true)
  protected MavenProject project;

  /** Ant-style patterns of the specs to read, relative to the source directory. */
  @Parameter
  protected List<String> includes;

  /** Ant-style patterns of specs to leave out. */
  @Parameter
  protected List<String> excludes;

  /** The Java package of the generated classes; default: each spec's own {@code package}. */
  @Parameter(property = "cnnc.packageName")
  protected String packageName;

  /** Skip this goal. */
  @Parameter(property = "cnnc.skip", defaultValue = "false")
  protected boolean skip;

  /** Fail the build on warnings too. */
  @Parameter(property = "cnnc.failOnWarning", defaultValue = "false")
  protected boolean failOnWarning;

  /** Where the goal writes ONNX exports, or null (set by the goal before {@link #execute}). */
  protected File onnxOutput;

  @Component
  protected BuildContext buildContext;

  /** The older API's context behind {@link #buildContext}: how to tell an IDE from the command line. */
  @Component
  protected org.sonatype.plexus.build.incremental.BuildContext legacyBuildContext;

  /** Runs the build and reports its diagnostics to the log and to the IDE; fails on errors. */
  protected CnnBuild.Result execute(File sourceDirectory, File outputDirectory, String stateName, boolean generate)
      throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("cnnc: skipped");
      return null;
    }
    CnnBuild.Request request = new CnnBuild.Request(sourceDirectory.toPath().toAbsolutePath(),
        outputDirectory.toPath().toAbsolutePath(),
        new File(project.getBuild().getDirectory(), "cnnc/" + stateName + ".state").toPath(),
        includes, excludes, packageName, generate, new File(project.getBasedir(), "cnnc.yaml").toPath(),
        failOnWarning, onnxOutput == null ? null : onnxOutput.toPath().toAbsolutePath());
    CnnBuild.Result result;
    try {
      result = CnnBuild.run(request);
    } catch (IOException e) {
      throw new MojoExecutionException(CnnBuild.failure(e), e);
    }
    for (Diagnostic d : result.diagnostics()) {
      File file = d.span().file().path() == null ? null : d.span().file().path().toFile();
      if (file != null) {
        buildContext.removeMessages(file);
      }
    }
    // Each diagnostic once: to the log in full (its notes and help under it), and to an IDE's
    // markers only when there is one. The command line's BuildContext logs every message it gets,
    // a second time and without the notes and help, so it is not given them.
    boolean ide = CnnBuild.isIde(buildContext == null ? null : buildContext.getClass(),
        legacyBuildContext == null ? null : legacyBuildContext.getClass());
    for (Diagnostic d : result.diagnostics()) {
      for (String line : CnnBuild.logLines(d)) {
        if (d.severity() == Severity.ERROR) {
          getLog().error(line);
        } else {
          getLog().warn(line);
        }
      }
      if (ide && d.span().file().path() != null) {
        buildContext.addMessage(d.span().file().path().toFile(), d.span().line(), d.span().column(),
            CnnBuild.ideMessage(d),
            d.severity() == Severity.ERROR ? BuildContext.SEVERITY_ERROR : BuildContext.SEVERITY_WARNING, null);
      }
    }
    if (result.errors() > 0 || (failOnWarning && result.warnings() > 0)) {
      throw new MojoFailureException("cnnc: " + result.errors() + " error(s) and " + result.warnings()
          + " warning(s) in " + sourceDirectory);
    }
    if (result.specs().isEmpty()) {
      getLog().info("cnnc: no specs in " + sourceDirectory);
    } else if (result.upToDate()) {
      getLog().info("cnnc: up to date, " + result.specs().size() + " spec(s), nothing regenerated"
          + (result.earlierWarnings() > 0 ? " (" + result.earlierWarnings() + " warning(s) reported by the build"
          + " that generated them; mvn clean to see them again)" : ""));
    } else if (generate) {
      getLog().info("cnnc: " + result.specs().size() + " spec(s): " + result.written().size() + " file(s) written, "
          + result.unchanged().size() + " unchanged, " + result.deleted().size() + " removed");
      result.written().forEach(p -> {
        getLog().info("cnnc: wrote " + p);
        buildContext.refresh(p.toFile());
      });
      result.deleted().forEach(p -> getLog().info("cnnc: removed " + p));
    } else {
      getLog().info("cnnc: " + result.specs().size() + " spec(s) checked, no errors");
    }
    return result;
  }
}
